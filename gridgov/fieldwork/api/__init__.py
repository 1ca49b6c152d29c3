"""The fieldwork API: each domain module lists its routes; `ROUTES` is all of them for /api/v1/."""

from gridgov.fieldwork.api import activities, campaigns, care, patrols, visits

ROUTES = [*campaigns.ROUTES, *visits.ROUTES, *patrols.ROUTES, *care.ROUTES, *activities.ROUTES]

"""/fieldwork/: each domain's page module lists its own routes."""

from gridgov.fieldwork.views import activities, campaigns, care, day, exports, patrols, visits

app_name = "fieldwork"

urlpatterns = [
    *day.urlpatterns,
    *campaigns.urlpatterns,
    *visits.urlpatterns,
    *patrols.urlpatterns,
    *care.urlpatterns,
    *activities.urlpatterns,
    *exports.urlpatterns,
]

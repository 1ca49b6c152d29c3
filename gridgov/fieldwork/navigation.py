"""The layout's fieldwork entries: (label, url name, icon, order)."""

from django.utils.translation import gettext_lazy as _

ITEMS: list[tuple] = [
    (_("My day"), "fieldwork:day", "bi-sun", 8),
    (_("Campaigns"), "fieldwork:campaigns", "bi-flag", 20),
    (_("Visits"), "fieldwork:visits", "bi-journal-check", 22),
    (_("Patrol"), "fieldwork:patrol_current", "bi-person-walking", 24),
    (_("Patrols"), "fieldwork:patrols", "bi-signpost-split", 25),
    (_("Care plans"), "fieldwork:care_plans", "bi-heart-pulse", 26),
    (_("Care checks"), "fieldwork:care_checks", "bi-list-check", 27),
    (_("Activities"), "fieldwork:activities", "bi-megaphone", 28),
]

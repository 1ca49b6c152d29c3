"""/api/v1/intake/{channel}/: signed intake from cameras and the 12345 hotline."""

from django.urls import path

from gridgov.integrations.api_views import IntakeView

urlpatterns = [
    path("<str:channel>/", IntakeView.as_view(), name="intake"),
]

"""Pages of the integrations app (the intake endpoint itself is in api_urls.py)."""

from django.urls import path

from gridgov.integrations import views

app_name = "integrations"

urlpatterns = [
    path("hotline/import/", views.hotline_import, name="hotline_import"),
    path("hotline/template.xlsx", views.hotline_template, name="hotline_template"),
]

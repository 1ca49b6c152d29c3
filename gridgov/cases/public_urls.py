"""The resident's pages (居民下单): no login, a tracking code instead."""

from django.urls import path

from gridgov.cases import public_views

app_name = "public_cases"

urlpatterns = [
    path("report/", public_views.report, name="report"),
    path("track/", public_views.track, name="track"),
    path("track/<str:code>/", public_views.case, name="case"),
    path("track/<str:code>/rate/", public_views.rate, name="rate"),
    path("track/<str:code>/files/<int:attachment>/", public_views.attachment, name="attachment"),
]

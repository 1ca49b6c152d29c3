"""/open311/v2/: Open311 GeoReport v2. Every resource ends in .xml or .json, which chooses the format."""

from django.urls import path, re_path

from gridgov.integrations.open311 import views
from gridgov.integrations.open311.render import XML

app_name = "open311"

FORMAT = r"\.(?P<fmt>xml|json)$"

urlpatterns = [
    # The endpoint's root answers with the discovery document, as the specification suggests.
    path("", views.discovery, {"fmt": XML}, name="root"),
    re_path(r"^discovery" + FORMAT, views.discovery, name="discovery"),
    re_path(r"^services" + FORMAT, views.service_list, name="services"),
    re_path(r"^services/(?P<service_code>[^/]+)" + FORMAT, views.service_definition, name="service"),
    re_path(r"^requests" + FORMAT, views.request_collection, name="requests"),
    re_path(r"^requests/(?P<service_request_id>[^/]+)" + FORMAT, views.request_detail, name="request"),
    re_path(r"^tokens/(?P<token>[^/]+)" + FORMAT, views.token_detail, name="token"),
    re_path(r"^(?P<path>.*)$", views.not_found),
]

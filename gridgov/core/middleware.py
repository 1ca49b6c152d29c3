"""Request-wide middleware: pages need a signed-in user (a few public paths do not); generations are read once."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.views import redirect_to_login

from gridgov.core import generations

PUBLIC_PREFIXES = (
    "/accounts/login/",
    "/accounts/otp/",
    "/healthz",
    "/static/",
    "/i18n/",
    "/api/",  # the API answers 401 in its own error body
    "/favicon.ico",
    "/public/",  # residents report and follow their cases with a tracking code
    "/open311/",  # Open311 GeoReport v2: public reads, writes with an API key
)


class LoginRequiredMiddleware:
    """Redirect anonymous page requests to the login page."""

    def __init__(self, get_response):
        self.get_response = get_response
        self.public = PUBLIC_PREFIXES + tuple(getattr(settings, "GRIDGOV_PUBLIC_PREFIXES", ()))

    def __call__(self, request):
        if not request.user.is_authenticated and not request.path.startswith(self.public):
            return redirect_to_login(request.get_full_path())
        return self.get_response(request)


class GenerationSnapshotMiddleware:
    """Read the cache generations at most once per request (see `generations.request_snapshot`)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        with generations.request_snapshot():
            return self.get_response(request)

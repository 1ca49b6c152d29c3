"""Pages need a signed-in user; a few public paths do not."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.views import redirect_to_login

PUBLIC_PREFIXES = (
    "/accounts/login/",
    "/accounts/otp/",
    "/healthz",
    "/static/",
    "/i18n/",
    "/api/",  # the API answers 401 in its own error body
    "/favicon.ico",
    "/public/",  # residents report and follow their cases with a tracking code
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

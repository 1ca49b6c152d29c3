from django.contrib import admin
from django.urls import include, path

from gridgov.areas import views as area_views
from gridgov.core import views as core_views

urlpatterns = [
    path("", area_views.home, name="home"),
    path("", include("gridgov.areas.urls")),
    path("registry/", include("gridgov.registry.urls")),
    path("cases/", include("gridgov.cases.urls")),
    path("public/", include("gridgov.cases.public_urls")),
    path("fieldwork/", include("gridgov.fieldwork.urls")),
    path("notifications/", include("gridgov.notifications.urls")),
    path("integrations/", include("gridgov.integrations.urls")),
    path("open311/v2/", include("gridgov.integrations.open311.urls")),
    path("", include("gridgov.core.urls")),
    path("accounts/", include("gridgov.accounts.urls")),
    path("api/v1/", include(("gridgov.api_urls", "api"))),
    path("healthz", core_views.healthz, name="healthz"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("admin/", admin.site.urls),
]

handler400 = "gridgov.core.views.error_400"
handler403 = "gridgov.core.views.error_403"
handler404 = "gridgov.core.views.error_404"
handler500 = "gridgov.core.views.error_500"

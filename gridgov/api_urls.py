"""/api/v1/: every app's API routes in one router."""

from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework.routers import DefaultRouter

from gridgov.accounts.api.views import MeView, TokenView
from gridgov.areas.api.views import AreaViewSet, PartyBranchViewSet, UnitViewSet
from gridgov.cases.api.views import BusinessLineViewSet, CaseViewSet, CategoryViewSet, ResolutionStatsViewSet
from gridgov.fieldwork.api import ROUTES as FIELDWORK_ROUTES
from gridgov.notifications.api.views import NotificationViewSet
from gridgov.registry.api.views import (
    BuildingViewSet,
    HouseholdViewSet,
    PlaceViewSet,
    ResidentViewSet,
    ShopViewSet,
    TagViewSet,
)

router = DefaultRouter()
router.register("areas", AreaViewSet, basename="area")
router.register("units", UnitViewSet, basename="unit")
router.register("party-branches", PartyBranchViewSet, basename="party-branch")
router.register("residents", ResidentViewSet, basename="resident")
router.register("households", HouseholdViewSet, basename="household")
router.register("buildings", BuildingViewSet, basename="building")
router.register("shops", ShopViewSet, basename="shop")
router.register("places", PlaceViewSet, basename="place")
router.register("tags", TagViewSet, basename="tag")
router.register("notifications", NotificationViewSet, basename="notification")
router.register("cases", CaseViewSet, basename="case")
router.register("categories", CategoryViewSet, basename="category")
router.register("business-lines", BusinessLineViewSet, basename="business-line")
router.register("stats/resolution", ResolutionStatsViewSet, basename="stats-resolution")
for prefix, viewset, basename in FIELDWORK_ROUTES:
    router.register(prefix, viewset, basename=basename)

urlpatterns = [
    path("auth/token/", TokenView.as_view(), name="auth-token"),
    path("auth/me/", MeView.as_view(), name="auth-me"),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="api:schema"), name="docs"),
    path("intake/", include("gridgov.integrations.api_urls")),
    path("", include(router.urls)),
]

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


def _keeps_registry(user) -> bool:
    """The registry menu is for users whose scope reaches registry rows (not unit handlers, mediators)."""
    from gridgov.core.scope import scope_for

    if not user.is_authenticated:
        return False
    scope = scope_for(user)
    return scope.everything or bool(scope.area_codes)


class RegistryConfig(AppConfig):
    name = "gridgov.registry"
    label = "registry"
    verbose_name = _("Registry of people and things")

    def ready(self) -> None:
        from gridgov.core.navigation import NavItem, register

        register(
            NavItem(_("Residents"), "registry:resident_list", "bi-people", order=20, visible=_keeps_registry),
            NavItem(_("Households"), "registry:household_list", "bi-house-door", order=22, visible=_keeps_registry),
            NavItem(_("Buildings"), "registry:building_list", "bi-buildings", order=24, visible=_keeps_registry),
            NavItem(_("Shops"), "registry:shop_list", "bi-shop", order=26, visible=_keeps_registry),
            NavItem(_("Places"), "registry:place_list", "bi-geo-alt", order=28, visible=_keeps_registry),
            NavItem(_("Registry map"), "registry:map", "bi-pin-map", order=30, visible=_keeps_registry),
        )

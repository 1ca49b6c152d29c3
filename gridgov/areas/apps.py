from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AreasConfig(AppConfig):
    name = "gridgov.areas"
    label = "areas"
    verbose_name = _("Organisation")

    def ready(self) -> None:
        from gridgov.areas.models import Post, Unit
        from gridgov.core import generations
        from gridgov.core.navigation import NavItem, register
        from gridgov.core.scope import POSTS_GENERATION

        # Every process keeps users' scopes while no post or unit changes (core.scope).
        generations.track(POSTS_GENERATION, Post, Unit)

        register(
            NavItem(_("Overview"), "home", "bi-map", order=10),
            NavItem(_("Units"), "areas:unit_list", "bi-building", order=80),
            NavItem(_("Party branches"), "areas:party_branch_list", "bi-flag", order=85),
        )

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


def _manages_integrations(user) -> bool:
    from gridgov.integrations.services import can_manage_keys

    return user.is_authenticated and can_manage_keys(user)


class IntegrationsConfig(AppConfig):
    name = "gridgov.integrations"
    label = "integrations"
    verbose_name = _("Integrations")

    def ready(self) -> None:
        from gridgov.core.navigation import NavItem, register

        register(
            NavItem(
                _("12345 import"),
                "integrations:hotline_import",
                "bi-telephone-inbound",
                order=90,
                visible=_manages_integrations,
            ),
        )

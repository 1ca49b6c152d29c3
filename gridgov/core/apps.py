from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CoreConfig(AppConfig):
    name = "gridgov.core"
    label = "core"
    verbose_name = _("Core")

    def ready(self) -> None:
        from gridgov.core.navigation import NavItem, register

        register(
            NavItem(
                _("Audit trail"),
                "core:audit_list",
                "bi-journal-text",
                order=900,
                visible=lambda user: user.is_superuser,
            ),
            NavItem(_("API docs"), "api:docs", "bi-code-slash", order=950),
        )

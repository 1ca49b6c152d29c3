from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AccountsConfig(AppConfig):
    name = "gridgov.accounts"
    label = "accounts"
    verbose_name = _("Accounts")

    def ready(self) -> None:
        from gridgov.core.navigation import NavItem, register

        register(
            NavItem(
                _("Security policy"),
                "accounts:security_policy",
                "bi-shield-lock",
                order=910,
                visible=lambda user: user.is_superuser,
            ),
        )

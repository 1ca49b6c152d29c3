from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


def _works_in_field(user) -> bool:
    from gridgov.core.scope import scope_for

    return user.is_authenticated and bool(scope_for(user).area_codes or scope_for(user).everything)


class FieldworkConfig(AppConfig):
    name = "gridgov.fieldwork"
    label = "fieldwork"
    verbose_name = _("Fieldwork")

    def ready(self) -> None:
        from gridgov.core.navigation import NavItem, register
        from gridgov.fieldwork import navigation

        register(*(NavItem(*item, visible=_works_in_field) for item in navigation.ITEMS))

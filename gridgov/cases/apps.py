from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


def _works_cases(user) -> bool:
    from gridgov.core.scope import scope_for

    if not user.is_authenticated:
        return False
    scope = scope_for(user)
    return not scope.is_empty


class CasesConfig(AppConfig):
    name = "gridgov.cases"
    label = "cases"
    verbose_name = _("Case pipeline")

    def ready(self) -> None:
        from gridgov.core.navigation import NavItem, register

        register(
            NavItem(_("To do"), "cases:queue", "bi-inbox", order=10, visible=_works_cases),
            NavItem(_("Cases"), "cases:list", "bi-list-task", order=12, visible=_works_cases),
            NavItem(_("Report a case"), "cases:report", "bi-plus-circle", order=14, visible=_works_cases),
            NavItem(_("Resolution figures"), "cases:stats", "bi-bar-chart", order=16, visible=_works_cases),
        )

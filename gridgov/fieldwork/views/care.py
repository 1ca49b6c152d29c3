"""Pages of fieldwork: care (关爱). The plans, one plan with its checks and home services, the checks.

Reads go through `fieldwork.selectors.care` (a plan outside the scope is a 404), writes through
`fieldwork.services.care`; a refusal shows the service's (translated) message on the form.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from gridgov.accounts.models import User
from gridgov.areas.models import Post
from gridgov.areas.selectors import current_area
from gridgov.cases.forms import add_application_error
from gridgov.core.errors import ApplicationError, NotFound
from gridgov.core.pages import list_context
from gridgov.core.scope import acts_for, area_posts, scope_for, subtree
from gridgov.fieldwork.api.care import CareCheckFilterSet, CarePlanFilterSet
from gridgov.fieldwork.choices import CareCheckState, CareMethod, ServiceKind
from gridgov.fieldwork.models import CarePlan
from gridgov.fieldwork.selectors import care as selectors
from gridgov.fieldwork.services import care as services
from gridgov.registry.models import Resident
from gridgov.registry.selectors import resident_list

PLAN_FILTERS = ("q", "area", "method", "active", "overdue")
CHECK_FILTERS = ("state", "area", "due_after", "due_before", "mine")
STATE_COLOURS = {CareCheckState.DUE: "primary", CareCheckState.DONE: "success", CareCheckState.MISSED: "danger"}


def may_plan(user: Any) -> bool:
    """The user holds a role that sets up care plans somewhere."""
    return user.is_superuser or any(role in services.PLAN_ROLES for role, _code in area_posts(user))


def caretaker_choices(user: Any) -> list[tuple[str, str]]:
    """People who may carry plans out in the user's scope: holders of grid, group and community posts."""
    posts = Post.objects.filter(active=True, role__in=services.CARETAKER_ROLES, user__is_active=True).select_related(
        "user", "area"
    )
    scope = scope_for(user)
    if not scope.everything:
        q = None
        for code in scope.area_codes:
            part = subtree("area__code", code)
            q = part if q is None else q | part
        posts = posts.filter(q) if q is not None else posts.none()
    choices: dict[int, str] = {}
    for post in posts.order_by("area__code", "role", "user__username")[:300]:
        choices.setdefault(post.user_id, f"{post.user.display_name} · {post.get_role_display()} · {post.area}")
    return [(str(pk), label) for pk, label in choices.items()]


# --- forms ------------------------------------------------------------------------------------


class PlanForm(forms.Form):
    resident = forms.IntegerField(label=gettext_lazy("Resident"), widget=forms.HiddenInput, required=False)
    method = forms.ChoiceField(label=gettext_lazy("How"), choices=CareMethod.choices)
    interval_days = forms.IntegerField(label=gettext_lazy("Every (days)"), min_value=1, max_value=365, initial=7)
    caretaker = forms.TypedChoiceField(
        label=gettext_lazy("Carried out by"), required=False, coerce=int, empty_value=None
    )
    needs = forms.CharField(
        label=gettext_lazy("Needs and notes"), required=False, widget=forms.Textarea(attrs={"rows": 2})
    )
    starts_on = forms.DateField(
        label=gettext_lazy("First check due on"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )

    def __init__(self, *args: Any, caretakers: list[tuple[str, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["caretaker"].choices = [("", _("The grid's worker"))] + caretakers


class PlanUpdateForm(PlanForm):
    active = forms.BooleanField(label=gettext_lazy("Active"), required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        del self.fields["resident"]
        del self.fields["starts_on"]
        self.fields["caretaker"].choices = [("", _("Nobody"))] + self.fields["caretaker"].choices[1:]


class CompleteForm(forms.Form):
    method = forms.ChoiceField(label=gettext_lazy("How"), choices=CareMethod.choices)
    note = forms.CharField(label=gettext_lazy("Notes"), required=False, widget=forms.Textarea(attrs={"rows": 2}))


class ServiceForm(forms.Form):
    kind = forms.ChoiceField(label=gettext_lazy("Service"), choices=ServiceKind.choices)
    description = forms.CharField(label=gettext_lazy("What was done"), widget=forms.Textarea(attrs={"rows": 2}))
    served_on = forms.DateField(
        label=gettext_lazy("Date"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    complete_check = forms.BooleanField(label=gettext_lazy("This service is the due check"), required=False)


def _first_error(form: forms.Form) -> str:
    return next((str(e) for errors in form.errors.values() for e in errors), _("The data is not valid."))


# --- the plans --------------------------------------------------------------------------------


def _plans_page(request: HttpRequest, *, form: PlanForm | None = None, status: int = 200) -> HttpResponse:
    context = list_context(
        request, CarePlanFilterSet, selectors.care_plan_list(user=request.user).order_by("area_code", "id")
    )
    filter_form = context["filter"].form
    today = timezone.localdate()
    for plan in context["page"]:
        plan.overdue = plan.next_due is not None and plan.next_due < today
    permitted = may_plan(request.user)
    find = request.GET.get("find", "").strip() if request.method == "GET" else request.POST.get("find", "")
    chosen = None
    if form is not None and form.data.get("resident"):
        chosen = resident_list(user=request.user).filter(pk=form.data.get("resident")).first()
    context.update(
        filter_fields=[filter_form[name] for name in PLAN_FILTERS if name in filter_form.fields],
        may_plan=permitted,
        form=form or (PlanForm(caretakers=caretaker_choices(request.user)) if permitted else None),
        find=find,
        candidates=selectors.care_candidates(user=request.user, q=find) if permitted and (find or form) else [],
        chosen=chosen,
        open_form=bool(find) or form is not None,
        today=today,
    )
    return render(request, "fieldwork/care_plans.html", context, status=status)


def care_plans(request: HttpRequest) -> HttpResponse:
    """The care plans of the user's area; permitted roles set up a plan for a resident found by search."""
    if scope_for(request.user).is_empty:
        raise Http404(_("You have no area."))
    if request.method != "POST":
        return _plans_page(request)
    if not may_plan(request.user):
        raise Http404(_("You may not set up care plans."))
    form = PlanForm(request.POST, caretakers=caretaker_choices(request.user))
    if not form.is_valid():
        messages.error(request, _first_error(form))
        return _plans_page(request, form=form, status=400)
    data = form.cleaned_data
    try:
        if not data.get("resident"):
            message = _("Choose a resident.")
            raise ApplicationError("invalid", message, fields={"resident": [message]})
        resident = resident_list(user=request.user).get(pk=data["resident"])
        caretaker = User.objects.filter(pk=data["caretaker"], is_active=True).first() if data["caretaker"] else None
        plan = services.care_plan_create(
            actor=request.user,
            resident=resident,
            method=data["method"],
            interval_days=data["interval_days"],
            caretaker=caretaker,
            needs=data["needs"],
            starts_on=data["starts_on"],
        )
    except Resident.DoesNotExist:
        form.add_error(None, _("Choose a resident."))
        messages.error(request, _("Choose a resident."))
        return _plans_page(request, form=form, status=400)
    except ApplicationError as exc:
        add_application_error(form, exc)
        messages.error(request, exc.message)
        return _plans_page(request, form=form, status=exc.status)
    messages.success(request, _("Care plan for %(name)s set up.") % {"name": plan.resident.name})
    return redirect("fieldwork:care_plan", pk=plan.pk)


# --- one plan ---------------------------------------------------------------------------------


def _plan(request: HttpRequest, pk: int) -> CarePlan:
    try:
        return selectors.care_plan_get(user=request.user, pk=pk)
    except NotFound as exc:
        raise Http404(exc.message) from exc


def _plan_page(request: HttpRequest, plan: CarePlan, *, bound: dict[str, forms.Form] | None = None, status: int = 200):
    bound = bound or {}
    checks = selectors.care_plan_checks(plan=plan)
    for check in checks:
        check.colour = STATE_COLOURS.get(check.state, "secondary")
    due = next((c for c in checks if c.state == CareCheckState.DUE), None)
    caretakers = caretaker_choices(request.user)
    may_record = acts_for(request.user, plan.area_code, services.FIELD_ROLES)
    may_change = acts_for(request.user, plan.area_code, services.PLAN_ROLES)
    today = timezone.localdate()
    context = {
        "plan": plan,
        "checks": checks,
        "due": due,
        "due_overdue": due is not None and due.due_on < today,
        "services": selectors.care_plan_services(plan=plan),
        "may_record": may_record,
        "may_change": may_change,
        "complete_form": bound.get("complete")
        or CompleteForm(initial={"method": plan.method}, auto_id="id_complete_%s"),
        "service_form": bound.get("service")
        or ServiceForm(
            initial={"complete_check": plan.method == CareMethod.SERVICE and due is not None}, auto_id="id_service_%s"
        ),
        "update_form": bound.get("update")
        or PlanUpdateForm(
            caretakers=caretakers,
            auto_id="id_update_%s",
            initial={
                "method": plan.method,
                "interval_days": plan.interval_days,
                "caretaker": plan.caretaker_id or "",
                "needs": plan.needs,
                "active": plan.active,
            },
        ),
        "open": next(iter(bound), ""),
        "today": today,
    }
    return render(request, "fieldwork/care_plan.html", context, status=status)


def care_plan(request: HttpRequest, pk: int) -> HttpResponse:
    """One plan: the resident, the due check (with the form to record it), the history, home services."""
    return _plan_page(request, _plan(request, pk))


def _refused(request: HttpRequest, plan: CarePlan, name: str, form: forms.Form, exc: ApplicationError | None):
    if exc is not None:
        add_application_error(form, exc)
        messages.error(request, exc.message)
        status = exc.status
    else:
        messages.error(request, _first_error(form))
        status = 400
    return _plan_page(request, _plan(request, plan.pk), bound={name: form}, status=status)


@require_POST
def care_check_complete(request: HttpRequest, pk: int) -> HttpResponse:
    """Record the plan's due check done."""
    plan = _plan(request, pk)
    form = CompleteForm(request.POST, auto_id="id_complete_%s")
    if not form.is_valid():
        return _refused(request, plan, "complete", form, None)
    check = selectors.care_check_list(user=request.user).filter(plan=plan, state=CareCheckState.DUE).first()
    try:
        if check is None:
            raise ApplicationError("care_check_not_due", _("This care plan has no check due."), status=409)
        services.care_check_complete(actor=request.user, check=check, **form.cleaned_data)
    except ApplicationError as exc:
        return _refused(request, plan, "complete", form, exc)
    messages.success(request, _("Care check recorded."))
    return redirect("fieldwork:care_plan", pk=plan.pk)


@require_POST
def home_service_record(request: HttpRequest, pk: int) -> HttpResponse:
    """Record a home service for the plan's resident (and, if asked, its due check done by it)."""
    plan = _plan(request, pk)
    form = ServiceForm(request.POST, auto_id="id_service_%s")
    if not form.is_valid():
        return _refused(request, plan, "service", form, None)
    data = form.cleaned_data
    check = None
    if data["complete_check"]:
        check = selectors.care_check_list(user=request.user).filter(plan=plan, state=CareCheckState.DUE).first()
    try:
        services.home_service_record(
            actor=request.user,
            resident=plan.resident,
            kind=data["kind"],
            description=data["description"],
            served_on=data["served_on"],
            plan=plan,
            check=check,
        )
    except ApplicationError as exc:
        return _refused(request, plan, "service", form, exc)
    messages.success(request, _("Home service recorded."))
    return redirect("fieldwork:care_plan", pk=plan.pk)


@require_POST
def care_plan_update(request: HttpRequest, pk: int) -> HttpResponse:
    """Change the plan: how, how often, by whom, notes; deactivate or reactivate it."""
    plan = _plan(request, pk)
    form = PlanUpdateForm(request.POST, caretakers=caretaker_choices(request.user), auto_id="id_update_%s")
    if not form.is_valid():
        return _refused(request, plan, "update", form, None)
    data = form.cleaned_data
    caretaker = User.objects.filter(pk=data["caretaker"], is_active=True).first() if data["caretaker"] else None
    try:
        services.care_plan_update(
            actor=request.user,
            plan=plan,
            method=data["method"],
            interval_days=data["interval_days"],
            caretaker=caretaker,
            needs=data["needs"],
            active=data["active"],
        )
    except ApplicationError as exc:
        return _refused(request, plan, "update", form, exc)
    messages.success(request, _("Care plan saved."))
    return redirect("fieldwork:care_plan", pk=plan.pk)


# --- the checks -------------------------------------------------------------------------------


def care_checks(request: HttpRequest) -> HttpResponse:
    """Care checks of the user's area: `?state=missed` lists the missed ones (the alert's link)."""
    queryset = selectors.care_check_list(user=request.user).order_by("-due_on", "-id")
    if request.GET.get("state") in (CareCheckState.DUE, ""):
        queryset = queryset.order_by("due_on", "id")
    context = list_context(request, CareCheckFilterSet, queryset)
    today = timezone.localdate()
    for check in context["page"]:
        check.colour = STATE_COLOURS.get(check.state, "secondary")
        check.overdue = check.state == CareCheckState.DUE and check.due_on < today
    form = context["filter"].form
    area = current_area(request)
    context.update(
        filter_fields=[form[name] for name in CHECK_FILTERS if name in form.fields],
        state=request.GET.get("state", ""),
        states=CareCheckState.choices,
        stats=selectors.care_stats(user=request.user, area=area) if area is not None else [],
        area=area,
    )
    return render(request, "fieldwork/care_checks.html", context)


urlpatterns = [
    path("care/", care_plans, name="care_plans"),
    path("care/checks/", care_checks, name="care_checks"),
    path("care/<int:pk>/", care_plan, name="care_plan"),
    path("care/<int:pk>/complete/", care_check_complete, name="care_check_complete"),
    path("care/<int:pk>/service/", home_service_record, name="care_home_service"),
    path("care/<int:pk>/edit/", care_plan_update, name="care_plan_update"),
]

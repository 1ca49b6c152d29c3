"""Pages of fieldwork: volunteer and publicity activities, and the scoped photo views.

`photo` and `photo_thumb` serve any FieldPhoto (of an activity or a visit) through the scope, the
way the case pages serve attachments: inline, with the checked type, never sniffed.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from gridgov.areas.choices import Level
from gridgov.areas.selectors import area_list, current_area
from gridgov.cases.forms import add_application_error
from gridgov.core.errors import ApplicationError, NotFound
from gridgov.core.pages import list_context
from gridgov.core.scope import acts_for, area_posts
from gridgov.fieldwork.api.activities import ActivityFilterSet
from gridgov.fieldwork.choices import ActivityKind
from gridgov.fieldwork.models import Activity
from gridgov.fieldwork.selectors import activities as selectors
from gridgov.fieldwork.services import activities as services

LIST_FILTERS = ("q", "kind", "area", "held_after", "held_before")
PICKER_LIMIT = 300


def may_record(user: Any) -> bool:
    return user.is_superuser or any(role in services.ACTIVITY_ROLES for role, _code in area_posts(user))


def _area_choices(user: Any) -> list[tuple[str, str]]:
    """Communities, grids and groups the user may record activities in, indented by level."""
    areas = area_list(user=user).filter(level__in=services.ACTIVITY_LEVELS).only("id", "code", "name", "level")
    indent = {Level.COMMUNITY: "", Level.GRID: "　", Level.GROUP: "　　"}
    return [
        (str(a.pk), f"{indent.get(a.level, '')}{a.name}")
        for a in areas.order_by("code")[:PICKER_LIMIT]
        if acts_for(user, a.code, services.ACTIVITY_ROLES)
    ]


class ActivityForm(forms.Form):
    title = forms.CharField(label=gettext_lazy("Title"), max_length=100)
    kind = forms.ChoiceField(label=gettext_lazy("Kind"), choices=ActivityKind.choices)
    organiser = forms.CharField(label=gettext_lazy("Organiser"), max_length=100)
    area = forms.TypedChoiceField(label=gettext_lazy("Area"), coerce=int)
    held_on = forms.DateField(label=gettext_lazy("Date"), widget=forms.DateInput(attrs={"type": "date"}))
    place = forms.CharField(label=gettext_lazy("Place"), max_length=200, required=False)
    households_reached = forms.IntegerField(label=gettext_lazy("Households reached"), min_value=0, initial=0)
    description = forms.CharField(
        label=gettext_lazy("Description"), required=False, widget=forms.Textarea(attrs={"rows": 3})
    )
    participants = forms.TypedMultipleChoiceField(
        label=gettext_lazy("Volunteers"), coerce=int, required=False, widget=forms.CheckboxSelectMultiple
    )

    def __init__(self, *args: Any, areas: list[tuple[str, str]], volunteers: list[tuple[str, str]], **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.fields["area"].choices = areas
        self.fields["participants"].choices = volunteers


def _volunteers(user: Any, q: str = "") -> list[tuple[str, str]]:
    people = selectors.volunteer_list(user=user)
    if q:
        people = people.filter(name__startswith=q)
    return [(str(r.pk), f"{r.name} · {r.group.name if r.group_id else r.grid.name}") for r in people[:PICKER_LIMIT]]


def activities(request: HttpRequest) -> HttpResponse:
    """Activities of the user's area and, for the current area, the counts per grid or group."""
    context = list_context(request, ActivityFilterSet, selectors.activity_list(user=request.user))
    form = context["filter"].form
    area = current_area(request)
    stats = None
    if area is not None:
        stats = selectors.activity_stats(user=request.user, area=area)
    context.update(
        filter_fields=[form[name] for name in LIST_FILTERS if name in form.fields],
        stats=stats,
        area=area,
        may_record=may_record(request.user),
    )
    return render(request, "fieldwork/activities.html", context)


def _form_page(request: HttpRequest, form: ActivityForm, *, find: str = "", status: int = 200) -> HttpResponse:
    return render(request, "fieldwork/activity_form.html", {"form": form, "find": find}, status=status)


def activity_create(request: HttpRequest) -> HttpResponse:
    """The form: what, who organised it, where and when, the volunteers (from the registry), photos."""
    if not may_record(request.user):
        raise Http404(_("You may not record activities."))
    find = (request.GET.get("find") or request.POST.get("find") or "").strip()
    areas = _area_choices(request.user)
    volunteers = _volunteers(request.user, find)
    if request.method != "POST":
        initial = {"held_on": timezone.localdate(), "households_reached": 0}
        return _form_page(request, ActivityForm(initial=initial, areas=areas, volunteers=volunteers), find=find)
    # Volunteers ticked before a new search stay choosable.
    ticked = {str(v) for v in request.POST.getlist("participants")}
    if ticked - {pk for pk, _label in volunteers}:
        volunteers = _volunteers(request.user)
    form = ActivityForm(request.POST, areas=areas, volunteers=volunteers)
    if not form.is_valid():
        messages.error(request, next(str(e) for errors in form.errors.values() for e in errors))
        return _form_page(request, form, find=find, status=400)
    data = dict(form.cleaned_data)
    try:
        area = area_list(user=request.user).get(pk=data.pop("area"))
        activity = services.activity_create(
            actor=request.user, area=area, photos=request.FILES.getlist("photos"), **data
        )
    except ApplicationError as exc:
        add_application_error(form, exc)
        if "photos" in exc.fields:
            form.add_error(None, exc.message)
        messages.error(request, exc.message)
        return _form_page(request, form, find=find, status=exc.status)
    messages.success(request, _("Activity “%(title)s” recorded.") % {"title": activity.title})
    return redirect("fieldwork:activity", pk=activity.pk)


def _activity(request: HttpRequest, pk: int) -> Activity:
    try:
        return selectors.activity_get(user=request.user, pk=pk)
    except NotFound as exc:
        raise Http404(exc.message) from exc


def activity(request: HttpRequest, pk: int) -> HttpResponse:
    """One activity: its details, volunteers and photos."""
    obj = _activity(request, pk)
    context = {"activity": obj, "may_delete": acts_for(request.user, obj.area_code, services.ACTIVITY_ROLES)}
    return render(request, "fieldwork/activity.html", context)


@require_POST
def activity_delete(request: HttpRequest, pk: int) -> HttpResponse:
    obj = _activity(request, pk)
    try:
        services.activity_delete(actor=request.user, activity=obj)
    except ApplicationError as exc:
        messages.error(request, exc.message)
        return redirect("fieldwork:activity", pk=pk)
    messages.success(request, _("Activity deleted."))
    return redirect("fieldwork:activities")


def _serve(request: HttpRequest, pk: int, *, thumbnail: bool) -> FileResponse:
    try:
        photo = selectors.field_photo_get(user=request.user, pk=pk)
    except NotFound as exc:
        raise Http404(exc.message) from exc
    stored = photo.thumbnail if thumbnail else photo.file
    if not stored:
        raise Http404(_("File not found."))
    try:
        handle = stored.open("rb")
    except (FileNotFoundError, OSError) as exc:
        raise Http404(_("File not found.")) from exc
    response = FileResponse(
        handle, content_type="image/jpeg" if thumbnail else photo.content_type, as_attachment=False, filename=photo.name
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, max-age=3600"
    return response


def photo(request: HttpRequest, pk: int) -> FileResponse:
    """A fieldwork photo (activity or visit), inside the user's scope only."""
    return _serve(request, pk, thumbnail=False)


def photo_thumb(request: HttpRequest, pk: int) -> FileResponse:
    """The thumbnail of a fieldwork photo, inside the user's scope only."""
    return _serve(request, pk, thumbnail=True)


urlpatterns = [
    path("activities/", activities, name="activities"),
    path("activities/new/", activity_create, name="activity_create"),
    path("activities/<int:pk>/", activity, name="activity"),
    path("activities/<int:pk>/delete/", activity_delete, name="activity_delete"),
    path("photos/<int:pk>/", photo, name="photo"),
    path("photos/<int:pk>/thumbnail/", photo_thumb, name="photo_thumb"),
]

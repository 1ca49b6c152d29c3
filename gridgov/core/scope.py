"""The one scoping function: every list, detail, export and API read goes through `scoped`.

A user's scope is the union of their posts. A post at an area grants that area's subtree
(area codes are materialised paths, so a subtree is a code prefix). A post at a unit grants
what is assigned to the unit. Each scoped model declares how its rows reach an area or a unit
with a `scope_rule` class attribute; a model without one cannot be read through this module.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from typing import Any, TypeVar

from django.db import connection, models
from django.db.models import Q, QuerySet
from django.utils.translation import gettext as _

from gridgov.core import generations
from gridgov.core.errors import NotFound

M = TypeVar("M", bound=models.Model)

# Code lengths of the levels above a row, for "ancestors" rules: a unit serving the subdistrict
# serves every grid in it.
ANCESTOR_CODE_LENGTHS = (9, 12, 15)


@dataclass(frozen=True)
class ScopeRule:
    """How a model's rows reach the scope.

    area: lookup path to the Area code that owns the row ("code", "area__code", "grids__code"), or
        several paths when a row may hang off either (a post at an area, or at a unit serving one).
    unit: lookup path(s) to the Unit id the row is assigned to, if units may see it. A path that
        crosses a relation ("co_unit_links__unit_id") becomes a `pk IN (subquery)`, so no join
        multiplies the rows and no DISTINCT is needed.
    reference: organisation data (areas, units, party branches) that reference-only roles
        (unit handlers, mediators) may see for their own area.
    ancestors: a row attached to an area above the user's is visible too (a police station
        serving the whole subdistrict serves every grid).
    distinct: the area path crosses a many-to-many relation.
    everyone: a catalogue without an area (tags): visible to every user who holds a post.
    """

    area: str | tuple[str, ...] | None = None
    unit: str | tuple[str, ...] | None = None
    reference: bool = False
    ancestors: bool = False
    distinct: bool = False
    everyone: bool = False


@dataclass(frozen=True)
class Scope:
    """What one user may read: everything, or area subtrees and units."""

    everything: bool = False
    area_codes: tuple[str, ...] = ()  # full access: registry, cases, organisation
    reference_codes: tuple[str, ...] = ()  # organisation only (unit handlers, mediators)
    unit_ids: tuple[int, ...] = ()
    roles: frozenset[str] = field(default_factory=frozenset)

    @property
    def is_empty(self) -> bool:
        return not (self.everything or self.area_codes or self.reference_codes or self.unit_ids)

    def covers_code(self, code: str, *, reference: bool = False) -> bool:
        """True when the area with this code lies in the scope's subtrees."""
        if self.everything:
            return True
        codes = self.area_codes + (self.reference_codes if reference else ())
        return any(code.startswith(prefix) for prefix in codes)


def _minimal_prefixes(codes: set[str]) -> tuple[str, ...]:
    """Drop codes already covered by a shorter one, so filters stay short."""
    kept: list[str] = []
    for code in sorted(codes, key=len):
        if not any(code.startswith(prefix) for prefix in kept):
            kept.append(code)
    return tuple(sorted(kept))


@cache
def _posts_sql(post_model: Any) -> str:
    """A user's active posts with their area's code and their unit's area's code. Raw SQL: every request of a
    signed-in user asks, and the ORM took longer to build the query than the database to answer it."""
    quote = connection.ops.quote_name
    area_model = post_model._meta.get_field("area").related_model
    unit_model = post_model._meta.get_field("unit").related_model
    post, area, unit = (quote(m._meta.db_table) for m in (post_model, area_model, unit_model))
    return (
        f"SELECT p.{quote('role')}, a.{quote('code')}, p.{quote('unit_id')}, ua.{quote('code')} "  # noqa: S608
        f"FROM {post} p LEFT JOIN {area} a ON a.{quote('id')} = p.{quote('area_id')} "
        f"LEFT JOIN {unit} u ON u.{quote('id')} = p.{quote('unit_id')} "
        f"LEFT JOIN {area} ua ON ua.{quote('id')} = u.{quote('area_id')} "
        f"WHERE p.{quote('user_id')} = %s AND p.{quote('active')} = %s "
        f"ORDER BY p.{quote('role')}, a.{quote('code')}, p.{quote('id')}"  # Post's own ordering
    )


# Posts, and the units they point at, change seldom and are read by every request: each process keeps every
# user's rows until a post or unit is written anywhere (make bench: cases.intake_http).
POSTS_GENERATION = "areas.posts"


def _read_scope(user_id: int) -> tuple[Scope, tuple[tuple[str, str], ...]]:
    """The scope of a user who is not a superuser, and the (role, area code) of their posts at areas."""
    from gridgov.areas.choices import REFERENCE_ONLY_ROLES
    from gridgov.areas.models import Post

    full: set[str] = set()
    reference: set[str] = set()
    units: set[int] = set()
    roles: set[str] = set()
    area_posts: list[tuple[str, str]] = []
    with connection.cursor() as cursor:
        cursor.execute(_posts_sql(Post), [user_id, True])
        rows = cursor.fetchall()
    for role, area_code, unit_id, unit_area_code in rows:
        roles.add(role)
        if unit_id is None and area_code:
            area_posts.append((role, area_code))
        if unit_id is not None:
            units.add(unit_id)
            if unit_area_code:
                reference.add(unit_area_code)
        elif area_code:
            (reference if role in REFERENCE_ONLY_ROLES else full).add(area_code)
    scope = Scope(
        area_codes=_minimal_prefixes(full),
        reference_codes=_minimal_prefixes(reference | full),
        unit_ids=tuple(sorted(units)),
        roles=frozenset(roles),
    )
    return scope, tuple(area_posts)


_scopes: generations.CachedMap[int, tuple[Scope, tuple[tuple[str, str], ...]]] = generations.CachedMap(
    POSTS_GENERATION, _read_scope
)


def scope_for(user: Any) -> Scope:
    """The scope of `user`: one query the first time a process meets the user after posts last changed."""
    if user is None or not getattr(user, "is_authenticated", False) or not user.is_active:
        return Scope()
    cached = getattr(user, "_gridgov_scope", None)
    if cached is not None:
        return cached
    if user.is_superuser:
        scope = Scope(everything=True)
    else:
        scope, area_posts = _scopes.get(user.pk)
        # The same read answers "which roles where" for services that need it (the case pipeline).
        user._gridgov_area_posts = list(area_posts)
    user._gridgov_scope = scope
    return scope


def _successor(code: str) -> str:
    """The smallest code of the same length after `code`'s whole subtree: '340404004009' → '340404004010'."""
    digits = list(code)
    for i in range(len(digits) - 1, -1, -1):
        if digits[i] != "9":
            digits[i] = str(int(digits[i]) + 1)
            return "".join(digits[: i + 1]) + "0" * (len(digits) - i - 1)
        digits[i] = "0"
    return "1" + "".join(digits)


def subtree(path: str, code: str) -> Q:
    """Rows whose area code at `path` lies in the subtree of `code`.

    A range (code <= x < successor), not LIKE 'code%': a plain b-tree index serves it in every
    database and collation, in order, which keeps scoped lists fast over millions of rows.
    """
    if not code.isdigit():
        return Q(**{f"{path}__startswith": code})
    return Q(**{f"{path}__gte": code, f"{path}__lt": _successor(code)})


def _prefix_q(path: str, codes: tuple[str, ...]) -> Q:
    q = Q(pk__in=[])
    for code in codes:
        q |= subtree(path, code)
    return q


def rule_of(model: type[models.Model]) -> ScopeRule:
    rule = getattr(model, "scope_rule", None)
    if not isinstance(rule, ScopeRule):
        raise TypeError(f"{model.__name__} declares no scope_rule and cannot be read through the scope")
    return rule


def scope_q(model: type[models.Model], user: Any) -> Q | None:
    """The filter that restricts `model` to `user`'s scope; None means no restriction."""
    scope = scope_for(user)
    if scope.everything:
        return None
    rule = rule_of(model)
    if rule.everyone:
        return Q() if not scope.is_empty else Q(pk__in=[])
    q = Q(pk__in=[])
    paths = (rule.area,) if isinstance(rule.area, str) else (rule.area or ())
    codes = scope.reference_codes if rule.reference else scope.area_codes
    ancestors = sorted({code[:n] for code in codes for n in ANCESTOR_CODE_LENGTHS if n < len(code)})
    for path in paths:
        q |= _prefix_q(path, codes)
        if rule.ancestors and ancestors:
            q |= Q(**{f"{path}__in": ancestors})
    if rule.unit and scope.unit_ids:
        for path in (rule.unit,) if isinstance(rule.unit, str) else rule.unit:
            if "__" in path.removesuffix("__id").removesuffix("_id"):
                rows = model._default_manager.filter(**{f"{path}__in": scope.unit_ids}).values("pk")
                q |= Q(pk__in=rows)
            else:
                q |= Q(**{f"{path}__in": scope.unit_ids})
    return q


def scoped(queryset: QuerySet[M], user: Any) -> QuerySet[M]:
    """`queryset` restricted to what `user` may read. The only way a read reaches the database."""
    q = scope_q(queryset.model, user)
    if q is None:
        return queryset
    queryset = queryset.filter(q)
    if rule_of(queryset.model).distinct:
        queryset = queryset.distinct()
    return queryset


def scoped_get(queryset: QuerySet[M], user: Any, **lookup: Any) -> M:
    """One record inside the scope; NotFound (404) when it is missing or outside it."""
    try:
        return scoped(queryset, user).get(**lookup)
    except (queryset.model.DoesNotExist, ValueError, TypeError):
        raise NotFound(
            "not_found",
            _("%(name)s not found.") % {"name": queryset.model._meta.verbose_name},
        ) from None


def area_posts(user: Any) -> list[tuple[str, str]]:
    """(role, area code) of the user's active posts at areas, read once per user object (with the scope)."""
    if user is None or not getattr(user, "is_authenticated", False):
        return []
    cached = getattr(user, "_gridgov_area_posts", None)
    if cached is None:
        if user.is_superuser:
            from gridgov.areas.models import Post

            user._gridgov_area_posts = list(
                Post.objects.filter(user=user, active=True, area__isnull=False).values_list("role", "area__code")
            )
        else:
            scope_for(user)  # reads the posts once and leaves the pairs on the user
        cached = user._gridgov_area_posts
    return cached


def acts_for(user: Any, code: str, roles: Any) -> bool:
    """The user holds one of `roles` at the area `code` or above it; superusers always do."""
    if user is None or not getattr(user, "is_authenticated", False) or not user.is_active:
        return False
    if user.is_superuser:
        return True
    return any(role in roles and code.startswith(area_code) for role, area_code in area_posts(user))

"""Geometry of the organisation tree: boundary validation and the point → grid index."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import shapely
from django.utils.translation import gettext as _
from shapely.geometry import Point, shape
from shapely.validation import explain_validity

from gridgov.core import generations
from gridgov.core.errors import ApplicationError

# Bumped by every area write: the grid index and the area rows each process keeps (areas.cache) follow it.
AREAS_GENERATION = "areas.tree"


def _boundary_error(reason: str) -> ApplicationError:
    return ApplicationError(
        "invalid_boundary",
        _("The boundary is not a valid polygon: %(reason)s") % {"reason": reason},
        fields={"boundary": [reason]},
    )


def parse_boundary(geojson: Any) -> shapely.Geometry:
    """A GeoJSON Polygon or MultiPolygon in WGS 84 as a valid shapely geometry, or ApplicationError."""
    if not isinstance(geojson, dict):
        raise _boundary_error(_("a GeoJSON object is expected"))
    kind = geojson.get("type")
    if kind not in {"Polygon", "MultiPolygon"}:
        raise _boundary_error(_("the type must be Polygon or MultiPolygon, not %(type)s") % {"type": kind})
    try:
        geometry = shape(geojson)
    except (KeyError, TypeError, ValueError, IndexError, AttributeError, shapely.errors.GEOSException) as exc:
        raise _boundary_error(_("malformed coordinates (%(error)s)") % {"error": exc}) from exc
    if geometry.is_empty:
        raise _boundary_error(_("the polygon is empty"))
    minx, miny, maxx, maxy = geometry.bounds
    if not (-180 <= minx <= maxx <= 180 and -90 <= miny <= maxy <= 90):
        raise _boundary_error(_("coordinates must be longitude, latitude in degrees (WGS 84)"))
    if not geometry.is_valid:
        raise _boundary_error(explain_validity(geometry))
    if geometry.area == 0:
        raise _boundary_error(_("the polygon has no area"))
    return geometry


def centre_of(geometry: shapely.Geometry) -> tuple[float, float]:
    """A point inside the polygon (not the centroid, which may fall outside a concave shape)."""
    point = geometry.representative_point() if not geometry.contains(geometry.centroid) else geometry.centroid
    return (round(point.x, 7), round(point.y, 7))


@dataclass
class _Snapshot:
    generation: int
    tree: shapely.STRtree | None
    ids: list[int]
    codes: list[str]
    geometries: list[shapely.Geometry]


class GridIndex:
    """Point → grid with an STRtree, rebuilt whenever any process changes an area.

    Area services bump a generation counter in the same transaction as the change; each lookup
    reads that counter (one primary-key query) and rebuilds the tree when it moved.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._snapshot: _Snapshot | None = None

    def _load(self, generation: int) -> _Snapshot:
        from gridgov.areas.choices import Level
        from gridgov.areas.models import Area

        ids: list[int] = []
        codes: list[str] = []
        geometries: list[shapely.Geometry] = []
        for pk, code, boundary in (
            Area.objects.filter(level=Level.GRID, boundary__isnull=False)
            .order_by("code")
            .values_list("pk", "code", "boundary")
        ):
            try:
                geometry = shape(boundary)
            except (KeyError, TypeError, ValueError, AttributeError):
                continue  # services refuse such boundaries; a hand-edited row must not break lookups
            shapely.prepare(geometry)
            ids.append(pk)
            codes.append(code)
            geometries.append(geometry)
        tree = shapely.STRtree(geometries) if geometries else None
        return _Snapshot(generation, tree, ids, codes, geometries)

    def snapshot(self) -> _Snapshot:
        generation = generations.current(AREAS_GENERATION)
        snap = self._snapshot
        if snap is None or snap.generation != generation:
            with self._lock:
                snap = self._snapshot
                if snap is None or snap.generation != generation:
                    snap = self._snapshot = self._load(generation)
        return snap

    @staticmethod
    def _locate_in(snap: _Snapshot, lng: float, lat: float) -> int | None:
        point = Point(lng, lat)
        hits = [i for i in snap.tree.query(point) if snap.geometries[i].covers(point)]
        return snap.ids[min(hits, key=lambda i: snap.codes[i])] if hits else None

    def locate(self, lng: float, lat: float) -> int | None:
        """The id of the grid covering the point; on a shared edge, the grid with the smallest code."""
        snap = self.snapshot()
        return None if snap.tree is None else self._locate_in(snap, lng, lat)

    def locate_many(self, points: Sequence[tuple[float, float]]) -> list[int | None]:
        """The grid of each (lng, lat), with one freshness check for the lot (bulk intake, imports, the demo)."""
        snap = self.snapshot()
        if snap.tree is None:
            return [None] * len(points)
        return [self._locate_in(snap, lng, lat) for lng, lat in points]


grid_index = GridIndex()

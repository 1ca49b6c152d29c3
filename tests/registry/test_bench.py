"""The registry's benchmark figures run at the tiny scale and report well-formed figures. No timing is asserted."""

from __future__ import annotations

import json

import pytest

from gridgov.core import bench
from gridgov.registry.models import Resident
from tests.core.test_bench import assert_figures

REGISTRY_FIGURES = [
    "registry.resident_list_api.p95",
    "registry.resident_list_api.queries",
    "registry.id_search.p95",
    "registry.import_100k.seconds",
    "registry.import_vs_read.ratio",
]


@pytest.mark.django_db
def test_registry_figures_run_at_the_tiny_scale():
    lines: list[str] = []
    report = bench.run(scale="tiny", only=["registry"], out=lines.append)
    data = report.as_dict()
    assert report.errors == []
    assert [f["name"] for f in data["figures"]] == REGISTRY_FIGURES
    assert_figures(data["figures"])
    assert data["sizes"]["residents"] == bench.SIZES["residents"]["tiny"]
    json.dumps(data)
    by_name = {f["name"]: f for f in data["figures"]}
    queries = by_name["registry.resident_list_api.queries"]["value"]
    assert queries == int(queries)
    assert by_name["registry.import_vs_read.ratio"]["floor"] == 1.0
    # The bench residents and the imported ones are all there, sealed like any other.
    expected = bench.SIZES["residents"]["tiny"] + bench.SIZES["import_rows"]["tiny"]
    assert Resident.objects.count() == expected
    resident = Resident.objects.order_by("id").first()
    assert resident.id_number_hash and resident.id_number.reveal()


def test_every_registry_size_covers_every_scale():
    bench.discover()
    for name in ("residents", "import_rows", "registry_communities", "registry_grids_per_community"):
        assert set(bench.SIZES[name]) == set(bench.SCALES), name
    assert bench.SIZES["residents"]["full"] == 1_000_000
    assert bench.SIZES["import_rows"]["full"] == 100_000

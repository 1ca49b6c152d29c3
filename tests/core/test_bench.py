"""The benchmark harness: its report's shape and the command's isolation. No timing is asserted here."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from gridgov.core import bench
from gridgov.core.management.commands.bench import is_test_database

AREA_FIGURES = {
    "areas.grid_lookup.p95",
    "areas.grid_list_api.p95",
    "areas.grid_list_api.queries",
    "areas.locate_api.p95",
}


def assert_figures(figures: list[dict]) -> None:
    assert figures
    for figure in figures:
        assert {"name", "value", "unit", "target", "floor", "met"} <= set(figure), figure
        assert isinstance(figure["name"], str) and figure["name"]
        assert isinstance(figure["unit"], str) and figure["unit"]
        for key in ("value", "target", "floor"):
            assert isinstance(figure[key], int | float) and not isinstance(figure[key], bool), figure
            assert figure[key] > 0, figure
        assert isinstance(figure["met"], bool)
        if figure.get("better") == "higher":
            assert figure["met"] == (figure["value"] >= figure["target"]), figure
        else:
            assert figure["met"] == (figure["value"] <= figure["target"]), figure


@pytest.mark.django_db
def test_harness_reports_every_figure_beside_target_and_floor():
    lines: list[str] = []
    report = bench.run(scale="tiny", out=lines.append)
    data = report.as_dict()
    assert report.errors == []
    assert data["scale"] == "tiny"
    assert data["database"] in {"sqlite", "postgresql"}
    assert data["started_at"]
    assert data["sizes"]["grids"] == bench.SIZES["grids"]["tiny"]
    assert {f["name"] for f in data["figures"]} >= AREA_FIGURES
    assert_figures(data["figures"])
    assert any("floor" in line for line in lines)  # every figure is printed as it is measured
    json.dumps(data)  # the report is plain JSON


@pytest.mark.django_db
def test_command_writes_the_report_where_asked(tmp_path):
    path = tmp_path / "nested" / "report.json"
    out = io.StringIO()
    call_command("bench", "--scale", "tiny", "--current-test-db", "--report", str(path), stdout=out)
    data = json.loads(path.read_text(encoding="utf-8"))
    assert {f["name"] for f in data["figures"]} >= AREA_FIGURES
    assert_figures(data["figures"])
    header = next(line for line in out.getvalue().splitlines() if line.startswith("figure"))
    assert header.split() == ["figure", "value", "target", "floor", "met"]


@pytest.mark.django_db
def test_only_selects_by_prefix_and_refuses_unknown_names(tmp_path):
    path = tmp_path / "report.json"
    call_command(
        "bench",
        "--scale",
        "tiny",
        "--current-test-db",
        "--only",
        "areas.grid_list_api",
        "--report",
        str(path),
        stdout=io.StringIO(),
    )
    names = [f["name"] for f in json.loads(path.read_text())["figures"]]
    assert names == ["areas.grid_list_api.p95", "areas.grid_list_api.queries"]
    with pytest.raises(CommandError, match="no benchmark matches"):
        call_command("bench", "--scale", "tiny", "--current-test-db", "--only", "nothing.here", stdout=io.StringIO())


def test_met_follows_the_direction_of_the_target():
    lower = bench.Benchmark(name="x.lower", unit="ms", target=10, fn=lambda ctx: None)
    higher = bench.Benchmark(name="x.higher", unit="/s", target=10, fn=lambda ctx: None, higher_is_better=True)
    assert bench.Figure.of(lower, bench.Result(value=10, floor=1)).met
    assert not bench.Figure.of(lower, bench.Result(value=11, floor=1)).met
    assert bench.Figure.of(higher, bench.Result(value=11, floor=1)).met
    assert not bench.Figure.of(higher, bench.Result(value=9, floor=1)).met


def test_measure_summarises_samples():
    calls = []
    timing = bench.measure(lambda: calls.append(1), repeat=20, warmup=3)
    assert len(calls) == 23
    assert timing["n"] == 20
    assert {"p50", "p95", "mean"} <= set(timing)
    assert 0 < timing["min"] <= timing["p50"] <= timing["p95"] <= timing["max"]
    assert bench.percentile(list(range(1, 101)), 95) == 95

    calls.clear()
    timing = bench.measure(lambda: calls.append(1), repeat=20, warmup=0, rounds=4)
    assert len(calls) == 20
    assert timing["n"] == 5  # the statistics of one round
    assert timing["rounds"] == 4
    assert timing["p95"] <= timing["worst_p95"]


def test_every_size_covers_every_scale():
    bench.discover()
    assert "grids" in bench.SIZES
    for name, per_scale in bench.SIZES.items():
        assert set(per_scale) == set(bench.SCALES), name


def test_current_test_db_is_only_a_test_database():
    assert is_test_database({"NAME": "test_gridgov"}, "postgresql")
    assert is_test_database({"NAME": "file:memorydb_default?mode=memory&cache=shared"}, "sqlite")
    assert not is_test_database({"NAME": "gridgov"}, "postgresql")
    assert not is_test_database({"NAME": "/srv/gridgov/var/gridgov.sqlite3"}, "sqlite")


def test_command_runs_on_a_database_of_its_own(tmp_path):
    """A real `gridgov bench` process: it creates, migrates and drops its own SQLite file and never opens
    the configured database."""
    var = tmp_path / "var"
    report = tmp_path / "report.json"
    env = {**os.environ, "GRIDGOV_VAR_DIR": str(var)}
    env.pop("DATABASE_URL", None)
    result = subprocess.run(
        [sys.executable, "-m", "gridgov", "bench", "--scale", "tiny", "--only", "areas.grid_lookup"]
        + ["--report", str(report)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert [f["name"] for f in json.loads(report.read_text())["figures"]] == ["areas.grid_lookup.p95"]
    assert not (var / "gridgov.sqlite3").exists()  # the user's database was never opened
    assert not Path(var / "bench" / "bench.sqlite3").exists()  # the bench's own was dropped

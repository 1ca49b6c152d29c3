"""The benchmark harness behind `gridgov bench` (`make bench`).

Apps contribute figures from `gridgov/<app>/bench.py` with `@benchmark`; the harness finds those
modules through the installed apps and runs them at a scale. Every figure is printed beside its
target and a floor measured in the same run — the raw SQL round trip (`SELECT 1`) for work done
in-process, the empty endpoint for API calls — so a reader can tell a slow machine from slow code.
Speed is measured here, never timed in tests.

The harness runs on whatever database is configured; the `bench` command gives it one of its own.
"""

from __future__ import annotations

import fnmatch
import gc
import importlib
import importlib.util
import math
import os
import platform
import time
import traceback
import types
import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

from django.apps import apps
from django.conf import settings
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext, override_settings
from django.urls import path
from rest_framework.response import Response
from rest_framework.views import APIView

T = TypeVar("T")


class BenchError(Exception):
    """A benchmark could not measure what it set out to (wrong answer, failed request, bad name)."""


# --- scales and sizes -------------------------------------------------------------------------


@dataclass(frozen=True)
class Scale:
    """How big the data is and how many timed calls a figure takes.

    calls: timed calls of in-process work (an index lookup, a query); requests: timed API requests.
    rounds: the timed calls are split into this many rounds and the round with the lowest p95 counts
        (see `measure`).
    budget_seconds: the run should finish within this; exceeding it is reported, not fatal.
    """

    name: str
    calls: int
    requests: int
    warmup: int
    rounds: int
    budget_seconds: int | None
    description: str


SCALES: dict[str, Scale] = {
    "tiny": Scale(
        "tiny", calls=50, requests=10, warmup=2, rounds=2, budget_seconds=60, description="a smoke run for the tests"
    ),
    "small": Scale(
        "small",
        calls=5_000,
        requests=300,
        warmup=20,
        rounds=5,
        budget_seconds=300,
        description="a quarter of a city; finishes within 5 minutes on 2 cores",
    ),
    "full": Scale(
        "full",
        calls=20_000,
        requests=1_000,
        warmup=50,
        rounds=5,
        budget_seconds=None,
        description="the city of DESIGN.md (10,000 grids)",
    ),
}

# Sizes are data: each app declares how many rows of a kind each scale has (grids, residents, …).
SIZES: dict[str, dict[str, int]] = {}


def define_size(name: str, **per_scale: int) -> None:
    """Declare a size for every scale, e.g. `define_size("grids", tiny=40, small=2_500, full=10_000)`."""
    missing = set(SCALES) - set(per_scale)
    unknown = set(per_scale) - set(SCALES)
    if missing or unknown:
        raise ValueError(f"size {name!r}: missing scales {sorted(missing)}, unknown scales {sorted(unknown)}")
    SIZES[name] = dict(per_scale)


# --- the registry -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Result:
    """What a benchmark function returns: its value and the floor it measured, in the figure's unit."""

    value: float
    floor: float
    notes: str = ""


@dataclass(frozen=True)
class Benchmark:
    name: str
    unit: str
    target: float
    fn: Callable[[BenchContext], Result]
    higher_is_better: bool = False
    description: str = ""


REGISTRY: dict[str, Benchmark] = {}


def benchmark(
    *, name: str, unit: str, target: float, higher_is_better: bool = False, description: str = ""
) -> Callable[[Callable[[BenchContext], Result]], Callable[[BenchContext], Result]]:
    """Register a function `fn(ctx) -> Result` as the figure `name` (dotted: `<app>.<what>[.<stat>]`)."""

    def register(fn: Callable[[BenchContext], Result]) -> Callable[[BenchContext], Result]:
        known = REGISTRY.get(name)
        # Re-registering the same function (a module imported twice) is harmless; a second figure is not.
        if known is not None and (known.fn.__module__, known.fn.__qualname__) != (fn.__module__, fn.__qualname__):
            raise ValueError(f"two benchmarks are named {name!r}")
        doc = (fn.__doc__ or "").strip().splitlines()
        REGISTRY[name] = Benchmark(
            name=name,
            unit=unit,
            target=target,
            fn=fn,
            higher_is_better=higher_is_better,
            description=description or (doc[0] if doc else ""),
        )
        return fn

    return register


def discover() -> dict[str, Benchmark]:
    """Import `bench` from every project app that has one; return the registry."""
    for config in apps.get_app_configs():
        if not config.name.startswith("gridgov."):
            continue
        module = f"{config.name}.bench"
        if importlib.util.find_spec(module) is not None:
            importlib.import_module(module)
    return dict(REGISTRY)


def select(benchmarks: dict[str, Benchmark], only: Iterable[str] | None) -> list[Benchmark]:
    """The benchmarks named by `only` (exact names, dotted prefixes or shell patterns), all when empty."""
    patterns = list(only or [])
    if not patterns:
        return list(benchmarks.values())

    def matches(name: str, pattern: str) -> bool:
        return name == pattern or name.startswith(pattern + ".") or fnmatch.fnmatchcase(name, pattern)

    unmatched = [p for p in patterns if not any(matches(name, p) for name in benchmarks)]
    if unmatched:
        raise BenchError(f"no benchmark matches {', '.join(unmatched)}; known: {', '.join(benchmarks)}")
    return [b for name, b in benchmarks.items() if any(matches(name, p) for p in patterns)]


# --- figures ----------------------------------------------------------------------------------


@dataclass
class Figure:
    """One measured figure beside its target and its floor, in one unit."""

    name: str
    value: float
    unit: str
    target: float
    floor: float
    met: bool
    notes: str = ""
    higher_is_better: bool = False

    @classmethod
    def of(cls, bench: Benchmark, result: Result) -> Figure:
        value = float(result.value)
        met = value >= bench.target if bench.higher_is_better else value <= bench.target
        return cls(
            name=bench.name,
            value=value,
            unit=bench.unit,
            target=float(bench.target),
            floor=float(result.floor),
            met=met,
            notes=result.notes,
            higher_is_better=bench.higher_is_better,
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "value": round(self.value, 3),
            "unit": self.unit,
            "target": self.target,
            "floor": round(self.floor, 3),
            "met": self.met,
            "better": "higher" if self.higher_is_better else "lower",
            "notes": self.notes,
        }


# --- timing -----------------------------------------------------------------------------------

_NS_PER = {"ns": 1, "µs": 1_000, "us": 1_000, "ms": 1_000_000, "s": 1_000_000_000}


def in_unit(nanoseconds: float, unit: str) -> float:
    """A duration in nanoseconds expressed in `unit` (ns, µs, ms, s)."""
    return nanoseconds / _NS_PER[unit]


def percentile(ordered: list[int], q: float) -> float:
    """The nearest-rank percentile `q` (0–100) of an ascending list."""
    if not ordered:
        raise ValueError("no samples")
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return float(ordered[rank - 1])


def summarize(samples: list[int]) -> dict[str, float]:
    ordered = sorted(samples)
    return {
        "n": len(ordered),
        "min": float(ordered[0]),
        "p50": percentile(ordered, 50),
        "p95": percentile(ordered, 95),
        "max": float(ordered[-1]),
        "mean": sum(ordered) / len(ordered),
    }


def measure(fn: Callable[[], Any], repeat: int, warmup: int = 0, rounds: int = 1) -> dict[str, float]:
    """Call `fn` `warmup` times untimed, then `repeat` times timed; p50/p95/mean/min/max in nanoseconds.

    With `rounds` > 1 the timed calls are split into rounds and the statistics are those of the round
    with the lowest p95; `worst_p95` keeps the other end. A shared machine (two cores, other people's
    test suites) stalls whole stretches of a run; the best round shows what the code costs, and the
    floors are measured the same way, so value and floor stay comparable.
    """
    if repeat < 1 or rounds < 1:
        raise ValueError("repeat and rounds must be at least 1")
    for _ in range(warmup):
        fn()
    clock = time.perf_counter_ns
    per_round = max(1, math.ceil(repeat / rounds))
    summaries = []
    for _ in range(rounds):
        gc.collect()
        samples: list[int] = []
        for _ in range(per_round):
            start = clock()
            fn()
            samples.append(clock() - start)
        summaries.append(summarize(samples))
    best = min(summaries, key=lambda s: s["p95"])
    return {**best, "rounds": rounds, "worst_p95": max(s["p95"] for s in summaries)}


def describe(timing: dict[str, float], unit: str) -> str:
    """A timing for a figure's notes: the median and the spread of p95 across rounds."""
    text = f"p50 {_number(in_unit(timing['p50'], unit))} {unit}"
    if timing.get("rounds", 1) > 1:
        text += f", worst round's p95 {_number(in_unit(timing['worst_p95'], unit))} {unit}"
    return text


# --- floors and the client --------------------------------------------------------------------

EMPTY_ENDPOINT = "/api/v1/bench/empty/"


class EmptyView(APIView):
    """The empty endpoint: the project's API authentication and permission, and an empty body."""

    def get(self, request):
        return Response({})


def bench_urlconf() -> types.ModuleType:
    """The project's URLs plus the empty endpoint, mounted only while the bench runs."""
    root = importlib.import_module(settings.ROOT_URLCONF)
    module = types.ModuleType("gridgov_bench_urls")
    # After the project's own patterns, so resolving it costs at least what resolving a real endpoint does.
    module.urlpatterns = [*root.urlpatterns, path(EMPTY_ENDPOINT.lstrip("/"), EmptyView.as_view())]
    for handler in ("handler400", "handler403", "handler404", "handler500"):
        if hasattr(root, handler):
            setattr(module, handler, getattr(root, handler))
    return module


def select_one() -> None:
    """The raw SQL round trip: the least any query costs on this database."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()


class BenchContext:
    """What a benchmark function gets: the scale, the sizes, shared data, the client and the floors."""

    def __init__(self, scale: Scale, out: Callable[[str], None]) -> None:
        self.scale = scale
        self._out = out
        self._memo: dict[Any, Any] = {}
        self._started = time.monotonic()
        self.client = Client()

    def size(self, name: str) -> int:
        try:
            return SIZES[name][self.scale.name]
        except KeyError:
            raise BenchError(f"no size {name!r} is defined for scale {self.scale.name!r}") from None

    def progress(self, message: str) -> None:
        self._out(f"  [{time.monotonic() - self._started:6.1f}s] {message}")

    def once(self, key: str, build: Callable[[BenchContext], T]) -> T:
        """Data shared by several benchmarks, built the first time one asks for it."""
        if key not in self._memo:
            self._memo[key] = build(self)
        return self._memo[key]

    def measure(self, fn: Callable[[], Any], *, repeat: int, warmup: int | None = None) -> dict[str, float]:
        """`measure` with the scale's warm-up and rounds: `repeat` timed calls in all."""
        return measure(
            fn, repeat=repeat, warmup=self.scale.warmup if warmup is None else warmup, rounds=self.scale.rounds
        )

    def count_queries(self, fn: Callable[[], Any]) -> int:
        with CaptureQueriesContext(connection) as captured:
            fn()
        return len(captured.captured_queries)

    def get(self, url: str, *, token: str):
        """GET `url` with token authentication through the test client; anything but 200 is a BenchError."""
        response = self.client.get(url, HTTP_AUTHORIZATION=f"Token {token}")
        if response.status_code != 200:
            raise BenchError(f"GET {url} answered {response.status_code}: {response.content[:300]!r}")
        return response

    def sql_floor(self, unit: str) -> float:
        """p95 of `SELECT 1` through `connection.cursor()`, measured once per run."""
        if "floor.sql" not in self._memo:
            self.progress("floor: SELECT 1 round trip")
            self._memo["floor.sql"] = self.measure(select_one, repeat=self.scale.calls)
        return in_unit(self._memo["floor.sql"]["p95"], unit)

    def endpoint_floor(self, token: str, unit: str) -> float:
        """p95 of the empty endpoint through the same client and token as the real endpoint."""
        key = ("floor.endpoint", token)
        if key not in self._memo:
            self.progress(f"floor: GET {EMPTY_ENDPOINT}")
            self._memo[key] = self.measure(lambda: self.get(EMPTY_ENDPOINT, token=token), repeat=self.scale.requests)
        return in_unit(self._memo[key]["p95"], unit)

    def endpoint_floor_queries(self, token: str) -> int:
        """Queries the empty endpoint makes (the token lookup)."""
        return self.count_queries(lambda: self.get(EMPTY_ENDPOINT, token=token))


# --- running ----------------------------------------------------------------------------------


@dataclass
class Report:
    scale: str
    database: str
    database_version: str
    started_at: datetime
    duration_seconds: float = 0.0
    budget_seconds: int | None = None
    sizes: dict[str, int] = field(default_factory=dict)
    figures: list[Figure] = field(default_factory=list)
    errors: list[dict[str, str]] = field(default_factory=list)

    @property
    def missed(self) -> list[Figure]:
        return [f for f in self.figures if not f.met]

    @property
    def over_budget(self) -> bool:
        return self.budget_seconds is not None and self.duration_seconds > self.budget_seconds

    def as_dict(self) -> dict[str, Any]:
        return {
            "scale": self.scale,
            "database": self.database,
            "database_version": self.database_version,
            "started_at": self.started_at.isoformat(timespec="seconds"),
            "duration_seconds": round(self.duration_seconds, 1),
            "budget_seconds": self.budget_seconds,
            "machine": {"python": platform.python_version(), "platform": platform.platform(), "cpus": os.cpu_count()},
            "sizes": self.sizes,
            "figures": [f.as_dict() for f in self.figures],
            "missed": [f.name for f in self.missed],
            "errors": self.errors,
        }


def _database_version() -> str:
    try:
        return ".".join(str(part) for part in connection.get_database_version())
    except Exception:  # a backend without the method: the version is a nicety
        return ""


def _number(value: float) -> str:
    if value == int(value) and abs(value) >= 1:
        return f"{int(value):,}"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def format_figure(figure: Figure) -> tuple[str, str, str, str, str]:
    """The figure as table cells: figure, value, target, floor, met."""
    sign = "≥" if figure.higher_is_better else "≤"
    return (
        figure.name,
        f"{_number(figure.value)} {figure.unit}",
        f"{sign} {_number(figure.target)} {figure.unit}",
        f"{_number(figure.floor)} {figure.unit}",
        "yes" if figure.met else "MISSED",
    )


def format_table(figures: Iterable[Figure]) -> str:
    rows = [("figure", "value", "target", "floor", "met"), *(format_figure(f) for f in figures)]
    widths = [max(len(row[i]) for row in rows) for i in range(5)]
    lines = []
    for n, row in enumerate(rows):
        cells = [row[0].ljust(widths[0]), *(cell.rjust(width) for cell, width in zip(row[1:], widths[1:], strict=True))]
        lines.append("  ".join(cells).rstrip())
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def run(*, scale: str, only: Iterable[str] | None = None, out: Callable[[str], None] = print) -> Report:
    """Run the selected benchmarks at `scale` on the configured database and return the report."""
    if scale not in SCALES:
        raise BenchError(f"unknown scale {scale!r}; choose from {', '.join(SCALES)}")
    chosen = select(discover(), only)
    the_scale = SCALES[scale]
    report = Report(
        scale=scale,
        database=connection.vendor,
        database_version=_database_version(),
        started_at=datetime.now(UTC),
        budget_seconds=the_scale.budget_seconds,
        sizes={name: per_scale[scale] for name, per_scale in SIZES.items()},
    )
    ctx = BenchContext(the_scale, out)
    started = time.monotonic()
    hosts = [*settings.ALLOWED_HOSTS, "testserver"]
    # Production settings (no DEBUG query log) and the empty endpoint mounted beside the real ones.
    with override_settings(ROOT_URLCONF=bench_urlconf(), DEBUG=False, ALLOWED_HOSTS=hosts), warnings.catch_warnings():
        # WhiteNoise warns that the bench's var directory has no collected static files; it serves none.
        warnings.filterwarnings("ignore", message="No directory at", category=UserWarning)
        for bench in chosen:
            out(f"{bench.name}: {bench.description}")
            try:
                result = bench.fn(ctx)
            except Exception as exc:
                out(traceback.format_exc().rstrip())
                out(f"  ERROR {bench.name}: {exc}")
                report.errors.append({"name": bench.name, "error": f"{type(exc).__name__}: {exc}"})
                continue
            figure = Figure.of(bench, result)
            report.figures.append(figure)
            name, value, target, floor, met = format_figure(figure)
            out(
                f"  = {value}   target {target}   floor {floor}   {met}"
                + (f"   ({figure.notes})" if figure.notes else "")
            )
    report.duration_seconds = time.monotonic() - started
    return report

from __future__ import annotations

import datetime as dt
import io
import threading

from PIL import Image

from metrics.charts import ChartRenderer, compact, renderer

DAYS = [dt.date(2026, 11, 1) + dt.timedelta(days=i) for i in range(14)]
VALUES = [float(i % 5 + 3) for i in range(14)]


def _size(png: bytes) -> tuple[int, int]:
    with Image.open(io.BytesIO(png)) as image:
        assert image.format == "PNG"
        return image.size


def test_every_chart_is_a_600_by_300_png() -> None:
    r = ChartRenderer()
    pngs = [
        r.trend("Calls", DAYS, VALUES, target=5),
        r.team_bars("Team", ["A", "B"], [3, 9], targets=[5, 5], statuses=["red", "green"]),
        r.funnel("Funnel", [("Calls", 100), ("Meetings", 10), ("Won", 0)]),
        r.velocity("Velocity", ["Oct", "Nov"], [100.0, None]),
        r.growth("Growth", ["Dec"], [1000.0], [None], naive=[1200.0]),
    ]
    assert [_size(p) for p in pngs] == [(600, 300)] * 5


def test_reused_figures_leave_nothing_behind() -> None:
    r = ChartRenderer()
    first = r.trend("Calls", DAYS, VALUES, target=5)
    r.trend("Other", DAYS[:3], [100.0, 0.0, 50.0], target=[1.0, 2.0, 3.0])
    r.team_bars("Team", ["A"], [1.0])
    assert r.trend("Calls", DAYS, VALUES, target=5) == first
    assert ChartRenderer().trend("Calls", DAYS, VALUES, target=5) == first


def test_renderer_is_per_thread() -> None:
    seen: list[ChartRenderer] = []
    thread = threading.Thread(target=lambda: seen.append(renderer()))
    thread.start()
    thread.join()
    assert renderer() is renderer()
    assert seen[0] is not renderer()


def test_compact_numbers() -> None:
    assert compact(1_234_567, "currency") == "$1.2M"
    assert compact(16_000, "currency") == "$16k"
    assert compact(8_000) == "8.0k"
    assert compact(0.256, "percent") == "26%"
    assert compact(12.5) == "12.5"
    assert compact(-40) == "-40"


def test_pooled_team_bars_match_a_fresh_renderer() -> None:
    """Bars and labels are reused across charts: a short chart after a long one must look
    exactly like the same short chart from a new renderer (no stale bars or labels)."""
    r = ChartRenderer()
    wide = [f"Rep {i}" for i in range(12)]
    r.team_bars("Team", wide, [float(i) for i in range(12)], targets=[5.0] * 12)
    short = r.team_bars("Team", ["A", "B"], [3, 9], targets=[5, None], statuses=["red", "green"])
    fresh = ChartRenderer().team_bars(
        "Team", ["A", "B"], [3, 9], targets=[5, None], statuses=["red", "green"]
    )
    assert short == fresh
    assert short != ChartRenderer().team_bars("Team", ["A", "B"], [3, 8], targets=[5, None])

"""Chart rendering, 600x300 PNG: a new figure per chart (naive) vs the reusing renderer."""

from __future__ import annotations

import datetime as dt
import io

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from bench.common import Context, Result, median, timed, timed_cpu
from metrics.charts import ChartRenderer

DAYS = [dt.date(2026, 10, 23) + dt.timedelta(days=i) for i in range(30)]
VALUES = [float((i * 7) % 13 + 40) for i in range(30)]


def _naive() -> bytes:
    fig = Figure(figsize=(6, 3), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    ax.plot(range(len(VALUES)), VALUES, marker="o")
    ax.axhline(50, linestyle="--")
    ax.set_title("Calls — last 30 days")
    out = io.BytesIO()
    fig.savefig(out, format="png")
    return out.getvalue()


def _team_bars(renderer: ChartRenderer) -> bytes:
    return renderer.team_bars(
        "Team calls today",
        [f"Rep {i}" for i in range(10)],
        VALUES[:10],
        targets=[50.0] * 10,
        statuses=["green", "yellow", "red", "green", "none"] * 2,
    )


def run(ctx: Context) -> list[Result]:
    renderer = ChartRenderer()
    naive = median(timed(_naive, repeat=30)) * 1000
    reused = (
        median(
            timed(
                lambda: renderer.trend("Calls — last 30 days", DAYS, VALUES, target=50), repeat=60
            )
        )
        * 1000
    )
    bars = median(timed(lambda: _team_bars(renderer), repeat=40)) * 1000
    cpu_bars = median(timed_cpu(lambda: _team_bars(renderer), repeat=40)) * 1000
    cpu_naive = median(timed_cpu(_naive, repeat=20)) * 1000
    cpu_reused = (
        median(timed_cpu(lambda: renderer.trend("Calls", DAYS, VALUES, target=50), repeat=40))
        * 1000
    )
    return [
        Result("charts", "naive new figure, trend (CPU)", cpu_naive, "ms", note="baseline"),
        Result(
            "charts",
            "reused figure, trend (CPU)",
            cpu_reused,
            "ms",
            "<= 30 ms",
            cpu_reused <= 30,
            "CPU time: what the chart costs without other load",
        ),
        Result("charts", "naive new figure, trend", naive, "ms", note="baseline"),
        Result(
            "charts",
            "reused figure, trend",
            reused,
            "ms",
            "<= 30 ms",
            reused <= 30,
            f"{naive / reused:.1f}x faster than naive",
        ),
        Result(
            "charts",
            "reused figure, team bars (CPU)",
            cpu_bars,
            "ms",
            "<= 30 ms",
            cpu_bars <= 30,
            "10 bars, value and name labels, target marks",
        ),
        Result("charts", "reused figure, team bars", bars, "ms", "<= 30 ms", bars <= 30),
    ]

"""`python -m bench.sample_charts`: write sample PNGs of every chart kind to docs/charts/."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from metrics.charts import ChartRenderer

OUT = Path(__file__).resolve().parent.parent / "docs" / "charts"


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    r = ChartRenderer()
    days = [dt.date(2026, 10, 26) + dt.timedelta(days=i) for i in range(28)]
    calls = [0.0 if d.weekday() >= 5 else float(40 + (i * 7) % 23) for i, d in enumerate(days)]
    charts = {
        "trend.png": r.trend("Calls per day — Dana Ruiz", days, calls, target=50),
        "team_bars.png": r.team_bars(
            "SDR team — calls today vs target",
            ["Dana Ruiz", "Lee Park", "Sam Okafor", "Priya Nair", "Jonas Meyer", "Zoe Kim"],
            [62, 48, 35, 51, 22, 44],
            targets=[50, 50, 50, 50, 40, 50],
            statuses=["green", "yellow", "red", "green", "red", "yellow"],
        ),
        "funnel.png": r.funnel(
            "Funnel — last 30 days",
            [
                ("Calls + emails", 8420),
                ("Meetings booked", 310),
                ("Meetings held", 252),
                ("Opps created", 96),
                ("Deals won", 23),
            ],
        ),
        "velocity.png": r.velocity(
            "Revenue velocity ($/day)",
            ["Jun", "Jul", "Aug", "Sep", "Oct", "Nov"],
            [18200, 19100, 17600, 21400, 23900, 25100],
        ),
        "growth.png": r.growth(
            "Bookings: projection vs target",
            ["December", "Next 3 months"],
            [410000, 1150000],
            [450000, 1350000],
            naive=[520000, 1560000],
        ),
    }
    for name, png in charts.items():
        (OUT / name).write_bytes(png)
        print(OUT / name, len(png), "bytes")


if __name__ == "__main__":
    main()

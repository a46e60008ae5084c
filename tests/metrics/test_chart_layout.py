"""Charts readable in Slack's preview: names whole, value labels clear of the target tick,
colours from the configured bands, type large enough, few ticks, a title that fits."""

from __future__ import annotations

import datetime as dt
from typing import Any

from matplotlib.colors import to_rgba

from metrics.charts import STATUS_COLOURS, TICK_PT, ChartRenderer
from metrics.config import OrgSettings

TEAMS = ["SDR East", "SDR West", "Account Executives"]
DAYS = [dt.date(2026, 10, 27) + dt.timedelta(days=i) for i in range(30)]


def _bars(r: ChartRenderer) -> Any:
    slot = r._slots["bars"]
    assert slot.bars is not None
    return slot, slot.bars


def test_team_names_wrap_instead_of_being_cut() -> None:
    r = ChartRenderer()
    r.team_bars("Team inputs vs pace · Tue Nov 24", TEAMS, [0.79, 0.73, 0.87], unit="percent")
    _, pool = _bars(r)
    assert [pool.names[i].get_text() for i in range(3)] == [
        "SDR East",
        "SDR West",
        "Account\nExecutives",
    ]
    assert [pool.values[i].get_text() for i in range(3)] == ["79%", "73%", "87%"]


def test_value_labels_never_sit_on_the_target_tick() -> None:
    """At, just under and over the target the tick used to cross the label drawn inside the
    bar's top; every label is now above its bar, or above the tick when that is in the way."""
    r = ChartRenderer()
    values = [0.5, 0.97, 1.0, 1.05, 1.6]
    r.team_bars("T", ["a", "b", "c", "d", "e"], values, targets=[1.0] * 5, unit="percent")
    slot, pool = _bars(r)
    renderer = slot.canvas.get_renderer()
    tick_y = slot.ax.transData.transform((0, 1.0))[1]
    boxes = [pool.values[i].get_window_extent(renderer) for i in range(len(values))]
    crossed = [
        v for v, box in zip(values, boxes, strict=True) if box.y0 - 2 <= tick_y <= box.y1 + 2
    ]
    assert crossed == []
    for value, box in zip(values, boxes, strict=True):
        assert box.y0 >= slot.ax.transData.transform((0, value))[1], value  # never inside


def test_colours_come_from_the_configured_bands() -> None:
    """90% of target is yellow with the default bands (green at 100%, yellow from 80%) and
    green when the org is green from 90%; 60% is red, or yellow from 50%."""
    r = ChartRenderer()
    args: dict[str, Any] = {"targets": [1.0, 1.0], "unit": "percent"}
    r.team_bars("T", ["a", "b"], [0.9, 0.6], bands=OrgSettings(name="Acme"), **args)
    _, pool = _bars(r)
    assert pool.rects[0].get_facecolor() == to_rgba(STATUS_COLOURS["yellow"])
    assert pool.rects[1].get_facecolor() == to_rgba(STATUS_COLOURS["red"])
    lenient = OrgSettings(name="Acme", status_green_at=0.9, status_yellow_at=0.5)
    r.team_bars("T", ["a", "b"], [0.9, 0.6], bands=lenient, **args)
    assert pool.rects[0].get_facecolor() == to_rgba(STATUS_COLOURS["green"])
    assert pool.rects[1].get_facecolor() == to_rgba(STATUS_COLOURS["yellow"])


def test_type_is_large_and_ticks_few_and_the_last_day_is_labelled() -> None:
    r = ChartRenderer()
    r.trend("Calls · SDR East", DAYS, [float(i) for i in range(30)], target=20)
    ax = r._slots["trend"].ax
    labels = [t.get_text() for t in ax.get_xticklabels()]
    assert len(labels) <= 5 and labels[-1] == "Nov 25"
    assert len(ax.get_yticks()) <= 5
    assert min(t.get_fontsize() for t in ax.get_yticklabels()) >= TICK_PT >= 13


def test_a_long_title_fits_the_image() -> None:
    r = ChartRenderer()
    title = "Pipeline created · Account Executives and Channel Partners EMEA"
    r.trend(title, DAYS[:5], [1.0] * 5, subtitle="this month · Nov 1–25")
    slot = r._slots["trend"]
    box = slot.title.get_window_extent(slot.canvas.get_renderer())
    assert box.x0 >= 0 and box.x1 <= 600
    assert slot.title.get_text().startswith("Pipeline created · Account")


def test_per_day_targets_key_the_last_working_days_target() -> None:
    """A day off's target is 0 and a missing one None: the key shows the latest working
    day's target, not the Sunday's 0."""
    r = ChartRenderer()
    days = DAYS[:7]  # Tue Oct 27 .. Sun Nov 1
    r.trend("Calls", days, [5.0] * 7, target=[50, 50, 50, 50, None, 0, 0], subtitle="p")
    keys = [a.get_text() for a in r._slots["trend"].dynamic if hasattr(a, "get_text")]
    assert keys == ["- - target 50"]

"""Charts as PNG bytes (matplotlib Agg, no pyplot): trend vs target, team bars vs target,
funnel, velocity trend and growth-model projection.

One look everywhere: the Okabe-Ito colour-blind-safe palette, no chart junk, values printed
on bars so colour is never the only signal. Type is sized for Slack's preview, which shows a
600×300 px image at about half size on a phone: 13–17 pt here (≥ 9 px there; 10 pt was 6 px),
three or four ticks a side, the title shrunk to fit its line and a second line for the period
and the target's key. Rendering is fast because a `ChartRenderer` keeps one figure per chart
kind and reuses it: axes are cleared and redrawn, the canvas is rendered once and the RGBA
buffer is encoded with a fast PNG setting. A renderer is not thread-safe: use one per thread
(`renderer()` returns the calling thread's).
"""

from __future__ import annotations

import datetime as dt
import io
import itertools
import math
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle
from matplotlib.text import Text
from matplotlib.ticker import MaxNLocator
from matplotlib.transforms import blended_transform_factory, offset_copy
from PIL import Image

from metrics.catalog import currency_symbol
from metrics.chart_text import TextFitter
from metrics.config import OrgSettings
from metrics.targets import status_for

BLUE, ORANGE, GREEN, VERMILLION = "#0072B2", "#E69F00", "#009E73", "#D55E00"
SKY, PURPLE, GREY, INK = "#56B4E9", "#CC79A7", "#9A9A9A", "#222222"
MUTED = "#555555"  # the subtitle: dark enough to read, lighter than the title
STATUS_COLOURS = {"green": GREEN, "yellow": ORANGE, "red": VERMILLION, "none": GREY}
# Point sizes (at 100 dpi a point is 1.39 px; Slack's phone preview halves that)
TITLE_PT, TITLE_MIN_PT, SUBTITLE_PT, TICK_PT, VALUE_PT = 17.0, 13.0, 13.0, 14.0, 15.0
HEADER_TOP = 0.78  # axes top (figure fraction) of charts with a title and a second line


@dataclass(frozen=True)
class ChartSize:
    width_px: int = 600
    height_px: int = 300
    dpi: int = 100


def compact(value: float, unit: str = "count", currency: str = "USD") -> str:
    """1234567 -> '1.2M', 0.256 (percent) -> '26%', currency gets its symbol ('$', '€',
    'CHF ') as the messages print it (`metrics.catalog.currency_symbol`)."""
    if unit == "percent":
        return f"{value * 100:.0f}%"
    sign, v = ("-" if value < 0 else ""), abs(value)
    if v >= 1e6:
        text = f"{v / 1e6:.1f}M"
    elif v >= 1e4:
        text = f"{v / 1e3:.0f}k"
    elif v >= 1e3:
        text = f"{v / 1e3:.1f}k"
    elif v == int(v) or v >= 100:
        text = f"{v:.0f}"
    else:
        text = f"{v:.1f}"
    return f"{sign}{currency_symbol(currency)}{text}" if unit == "currency" else f"{sign}{text}"


@dataclass
class _Slot:
    fig: Figure
    canvas: FigureCanvasAgg
    ax: Any
    title: Text
    subtitle: Text  # the second line, left: the period
    dynamic: list[Any]  # this chart's artists (the target's key among them)
    bars: _BarPool | None = None

    def add(self, *artists: Any) -> None:
        self.dynamic.extend(artists)


class _BarPool:
    """Bars, value labels and name labels of the team chart, created once and reused."""

    def __init__(self, ax: Any, fig: Figure) -> None:
        self.ax = ax
        self.up = offset_copy(ax.transData, fig=fig, y=3, units="points")
        self.under = blended_transform_factory(ax.transData, ax.transAxes)
        self.rects: list[Rectangle] = []
        self.values: list[Text] = []
        self.names: list[Text] = []

    def grow(self, n: int) -> None:
        ax = self.ax
        while len(self.rects) < n:
            self.rects.append(ax.add_patch(Rectangle((0, 0), 0, 0, linewidth=0)))
            self.values.append(
                ax.text(
                    0,
                    0,
                    "",
                    ha="center",
                    va="bottom",
                    color=INK,
                    fontweight="bold",
                    transform=self.up,
                    clip_on=False,
                    parse_math=False,
                )
            )
            self.names.append(
                ax.text(
                    0,
                    -0.04,
                    "",
                    ha="center",
                    va="top",
                    color=INK,
                    linespacing=1.05,
                    transform=self.under,
                    parse_math=False,
                )
            )

    def show(self, n: int) -> None:
        for i, artists in enumerate(zip(self.rects, self.values, self.names, strict=True)):
            for artist in artists:
                artist.set_visible(i < n)


class ChartRenderer:
    """Renders charts into reused figures. Not thread-safe; see `renderer()`."""

    def __init__(self, size: ChartSize | None = None, *, compress_level: int = 1) -> None:
        self.size = size or ChartSize()
        self.compress_level = compress_level
        self._slots: dict[str, _Slot] = {}
        self._text = TextFitter(self.size.dpi)

    def _slot(self, kind: str, title: str) -> _Slot:
        """The figure for `kind`, styled once; the previous chart's artists are removed
        (cheaper than `cla()`, which rebuilds every tick and spine). The title is set,
        shrunk to fit its line; the second line is emptied."""
        slot = self._slots.get(kind)
        if slot is None:
            size = self.size
            fig = Figure(
                figsize=(size.width_px / size.dpi, size.height_px / size.dpi), dpi=size.dpi
            )
            canvas = FigureCanvasAgg(fig)
            ax = fig.add_axes((0.12, 0.13, 0.85, 0.72))
            for side in ("top", "right"):
                ax.spines[side].set_visible(False)
            for side in ("left", "bottom"):
                ax.spines[side].set_color(GREY)
            ax.tick_params(colors=INK, labelsize=TICK_PT, length=3)
            ax.grid(axis="y", color="#E6E6E6", linewidth=0.8)
            ax.set_axisbelow(True)
            head: dict[str, Any] = {"va": "top", "color": INK, "parse_math": False}
            title_text = fig.text(0.02, 0.975, "", fontweight="bold", **head)
            subtitle = fig.text(0.02, 0.885, "", fontsize=SUBTITLE_PT, **head)
            subtitle.set_color(MUTED)
            slot = self._slots[kind] = _Slot(fig, canvas, ax, title_text, subtitle, [])
        for artist in slot.dynamic:
            artist.remove()
        slot.dynamic.clear()
        text, points = self._text.fit(title, self.size.width_px * 0.96, TITLE_PT, TITLE_MIN_PT)
        slot.title.set_text(text)
        slot.title.set_fontsize(points)
        slot.subtitle.set_text("")
        return slot

    def _second_line(self, slot: _Slot, title: str, subtitle: str, key: str, colour: str) -> float:
        """The period on the second line's left, the target's key on its right (the period
        clipped to the room the key leaves); without a period the key goes up to the
        title's line when both fit. Returns the axes' top (figure fraction)."""
        key_px = self._text.width(key, SUBTITLE_PT, True) + 16 if key else 0.0
        width = self.size.width_px * 0.96
        narrow = self._text.width(title, TITLE_MIN_PT, True) <= width - key_px
        beside_title = not subtitle and narrow
        if key:
            slot.add(
                slot.fig.text(
                    0.98,
                    0.965 if beside_title else 0.885,
                    key,
                    ha="right",
                    va="top",
                    fontsize=SUBTITLE_PT,
                    fontweight="bold",
                    color=colour,
                    parse_math=False,
                )
            )
        if subtitle:
            slot.subtitle.set_text(self._text.clip(subtitle, width - key_px, SUBTITLE_PT))
        elif key and beside_title:
            text, points = self._text.fit(title, width - key_px, TITLE_PT, TITLE_MIN_PT)
            slot.title.set_text(text)
            slot.title.set_fontsize(points)
        return HEADER_TOP if subtitle or (key and not beside_title) else 0.85

    def _png(self, canvas: FigureCanvasAgg) -> bytes:
        agg: Any = canvas  # parts of the Agg canvas API are untyped
        agg.draw()
        width, height = canvas.get_width_height()
        image = Image.frombuffer("RGBA", (width, height), agg.buffer_rgba(), "raw", "RGBA", 0, 1)
        out = io.BytesIO()
        image.convert("RGB").save(out, format="PNG", compress_level=self.compress_level)
        return out.getvalue()

    def _y_axis(self, slot: _Slot, top: float, unit: str, currency: str) -> tuple[float, float]:
        """Y limits (room above the top for a label) and three or four ticks in the unit;
        (the upper limit, the left margin as a figure fraction that fits the tick labels)."""
        ax = slot.ax
        upper = top * 1.2 if top > 0 else 1.0
        locator = MaxNLocator(nbins=4, steps=[1, 2, 2.5, 5, 10], integer=unit == "count")
        ticks = [float(t) for t in locator.tick_values(0, upper) if 0 <= t <= upper]
        labels = [compact(t, unit, currency) for t in ticks]
        ax.set_ylim(0, upper)
        ax.set_yticks(ticks, labels)
        widest = max((self._text.width(label, TICK_PT) for label in labels), default=0.0)
        return upper, max(0.06, (widest + 14) / self.size.width_px)

    def _finish(
        self,
        slot: _Slot,
        top: float,
        unit: str,
        currency: str = "USD",
        *,
        axes_top: float = 0.85,
        right: float = 0.975,
    ) -> bytes:
        _, left = self._y_axis(slot, top, unit, currency)
        slot.ax.set_position((left, 0.13, right - left, axes_top - 0.13))
        return self._png(slot.canvas)

    def trend(
        self,
        title: str,
        days: Sequence[dt.date],
        values: Sequence[float],
        *,
        target: float | Sequence[float | None] | None = None,
        unit: str = "count",
        currency: str = "USD",
        subtitle: str = "",
    ) -> bytes:
        """Daily (or weekly) values as a line, with the target as a dashed line: one number
        for every point, or one per point (None: none that day), drawn as steps so a
        weekend's 0 reads as a day without a target. Money in `currency` (the reporting
        currency's code); `subtitle` is the second line (the period). At most five dates
        under the axis, the last point's always."""
        slot = self._slot("trend", title)
        ax = slot.ax
        n = len(values)
        xs = list(range(n))
        slot.add(
            *ax.plot(
                xs, values, color=BLUE, linewidth=2.4, marker="o", markersize=4.5, label="Actual"
            )
        )
        top = max(values, default=0.0)
        key = ""
        if target is not None:
            line = (
                [float(target)] * n
                if isinstance(target, int | float)
                else [math.nan if t is None else float(t) for t in target]
            )
            known = [t for t in line if not math.isnan(t)]
            if known:
                tx, ty = (xs, line) if n > 1 else ([-0.45, 0.45], line * 2)
                slot.add(
                    *ax.plot(
                        tx, ty, color=ORANGE, linewidth=2.0, linestyle="--", drawstyle="steps-mid"
                    )
                )
                latest = next((t for t in reversed(known) if t), known[-1])  # a working day's
                key = f"- - target {compact(latest, unit, currency)}"
                top = max(top, *known)
        axes_top = self._second_line(slot, title, subtitle, key, ORANGE)
        step = max(1, math.ceil(n / 5))
        ticks = xs[::-step][::-1]
        ax.set_xticks(ticks, [f"{days[i]:%b} {days[i].day}" for i in ticks])
        ax.set_xlim(-0.5, max(n - 0.5, 0.5))
        # the right margin holds half of the last date's label
        return self._finish(slot, top, unit, currency, axes_top=axes_top, right=0.94)

    def team_bars(
        self,
        title: str,
        names: Sequence[str],
        values: Sequence[float],
        *,
        targets: Sequence[float | None] | None = None,
        statuses: Sequence[str] | None = None,
        bands: OrgSettings | None = None,
        unit: str = "count",
        currency: str = "USD",
        subtitle: str = "",
    ) -> bytes:
        """One bar per person (or team) with a target tick each; its value printed above it
        (above the tick when the tick would cross the label), its name under it on up to two
        lines. Percent values are fractions (0.79 prints "79%").

        Colour: `statuses` when given; else, with `bands` (the org's settings), each value ÷
        its target in the configured `status_green_at` / `status_yellow_at` bands, as every
        scoreboard grades (`metrics.targets.status_for`); else blue.

        The bars, value labels and name labels are pooled artists reused across charts:
        creating ten rectangles and twenty texts per chart, and laying names out as axis tick
        labels, cost more than drawing them."""
        slot = self._slot("bars", title)
        ax = slot.ax
        pool = slot.bars or self._bar_pool(slot)
        n = len(values)
        pool.grow(n)
        goals = list(targets) if targets is not None else [None] * n
        known = [t for t in goals if t is not None]
        upper, left = self._y_axis(slot, max([*values, *known], default=0.0), unit, currency)
        name_pt = 14.0 if n <= 6 else 13.0 if n <= 8 else 12.0 if n <= 12 else 11.0
        value_pt = VALUE_PT if n <= 6 else 14.0 if n <= 8 else 12.0 if n <= 12 else 10.0
        per_bar = self.size.width_px * (0.975 - left) / max(n, 1) * 0.96
        shown = [self._text.lines(names[x], per_bar, name_pt) for x in range(n)]
        rows = max((s.count("\n") + 1 for s in shown), default=1)
        px = self.size.dpi / 72
        bottom = (10 + rows * name_pt * px * 1.2) / self.size.height_px
        key = "— target" if known else ""  # a key, not a legend: cheaper, never over bars
        axes_top = self._second_line(slot, title, subtitle, key, INK)
        # a label's height in data units: a target tick inside it lifts the label above it
        label_h = (value_pt * px * 1.25 + 3) / ((axes_top - bottom) * self.size.height_px)
        label_h *= upper
        for x, value in enumerate(values):
            goal = goals[x]
            status = statuses[x] if statuses else None
            if status is None and bands is not None and goal is not None:
                status = status_for(value, goal, bands)
            rect, label, name = pool.rects[x], pool.values[x], pool.names[x]
            rect.set_bounds(x - 0.31, 0, 0.62, value)
            rect.set_facecolor(STATUS_COLOURS.get(status, BLUE) if status else BLUE)
            label.set_text(compact(value, unit, currency))
            lifted = goal is not None and value <= goal <= value + label_h
            label.set_position((x, goal if lifted and goal is not None else value))
            label.set_fontsize(value_pt)
            name.set_text(shown[x])
            name.set_x(x)
            name.set_fontsize(name_pt)
        pool.show(n)
        if known:
            tx = [x for x, t in enumerate(goals) if t is not None]
            slot.add(
                ax.scatter(
                    tx,
                    known,
                    marker="_",
                    s=900,
                    color=INK,
                    linewidths=2.5,
                    label="Target",
                    zorder=3,
                )
            )
        ax.set_xlim(-0.6, max(n - 0.4, 0.6))
        ax.set_position((left, bottom, 0.975 - left, axes_top - bottom))
        return self._png(slot.canvas)

    def _bar_pool(self, slot: _Slot) -> _BarPool:
        ax = slot.ax
        ax.set_xticks([])  # names are pooled texts under the bars, not tick labels
        slot.bars = _BarPool(ax, slot.fig)
        return slot.bars

    def funnel(self, title: str, steps: Sequence[tuple[str, float]]) -> bytes:
        """Horizontal funnel bars, widest first, with counts and step conversion."""
        slot = self._slot("funnel", title)
        ax = slot.ax
        if ax.xaxis.get_visible():  # styled once
            ax.grid(False)
            ax.xaxis.set_visible(False)
            ax.spines["bottom"].set_visible(False)
        widest = max((self._text.width(label, TICK_PT) for label, _ in steps), default=0.0)
        left = min(0.45, (widest + 16) / self.size.width_px)  # the step names, whole
        ax.set_position((left, 0.05, 0.97 - left, 0.8))
        ys = list(range(len(steps)))[::-1]
        counts = [c for _, c in steps]
        palette = [BLUE, SKY, GREEN, ORANGE, PURPLE, VERMILLION]
        slot.add(ax.barh(ys, counts, color=[palette[i % 6] for i in range(len(steps))]))
        top = max(counts) if counts and max(counts) > 0 else 1.0
        for i, (y, count) in enumerate(zip(ys, counts, strict=True)):
            conv = ""
            if i > 0 and counts[i - 1]:
                conv = f"  ({count / counts[i - 1] * 100:.0f}%)"
            slot.add(
                ax.text(count + top * 0.01, y, f"{compact(count)}{conv}", va="center", fontsize=13)
            )
        ax.set_yticks(ys, [label for label, _ in steps])
        ax.set_xlim(0, top * 1.3)
        ax.set_ylim(-0.6, len(steps) - 0.4)
        return self._png(slot.canvas)

    def velocity(
        self,
        title: str,
        labels: Sequence[str],
        values: Sequence[float | None],
        *,
        currency: str = "USD",
    ) -> bytes:
        """Velocity per period (currency/day) with period-over-period change labels."""
        slot = self._slot("velocity", title)
        ax = slot.ax
        xs = list(range(len(values)))
        pts = [(x, v) for x, v in zip(xs, values, strict=True) if v is not None]
        slot.add(
            *ax.plot(
                [p[0] for p in pts], [p[1] for p in pts], color=GREEN, linewidth=2.2, marker="o"
            )
        )
        for (_, v0), (x1, v1) in itertools.pairwise(pts):
            if v0:
                change = (v1 - v0) / v0 * 100
                slot.add(
                    ax.annotate(
                        f"{change:+.0f}%",
                        (x1, v1),
                        textcoords="offset points",
                        xytext=(0, 7),
                        ha="center",
                        fontsize=9,
                        color=GREEN if change >= 0 else VERMILLION,
                    )
                )
        ax.set_xticks(xs, list(labels))
        ax.set_xlim(-0.5, max(len(xs) - 0.5, 0.5))
        return self._finish(slot, max((p[1] for p in pts), default=0.0), "currency", currency)

    def growth(
        self,
        title: str,
        labels: Sequence[str],
        projected: Sequence[float],
        target: Sequence[float | None],
        naive: Sequence[float | None] | None = None,
        *,
        currency: str = "USD",
    ) -> bytes:
        """Projected bookings vs target (and the naive reps × quota view) per period, each
        bar and marker with its value printed (colour is never the only signal)."""
        slot = self._slot("growth", title)
        ax = slot.ax
        xs = list(range(len(labels)))
        width = 0.38
        tgt = [t or 0.0 for t in target]
        slot.add(
            ax.bar(
                [x - width / 2 for x in xs], projected, width=width, color=BLUE, label="Projected"
            )
        )
        slot.add(
            ax.bar(
                [x + width / 2 for x in xs],
                tgt,
                width=width,
                color=ORANGE,
                label="Target",
                hatch="//",
                edgecolor="white",
            )
        )
        top = max([*projected, *tgt, 0.0])
        values = [(x - width / 2, v) for x, v in zip(xs, projected, strict=True)]
        values += [(x + width / 2, t) for x, t in zip(xs, target, strict=True) if t is not None]
        for x, v in values:
            slot.add(
                ax.annotate(
                    compact(v, "currency", currency),
                    (x, v),
                    textcoords="offset points",
                    xytext=(0, 3),
                    ha="center",
                    fontsize=9,
                    color=INK,
                )
            )
        if naive is not None:
            marked = [(x, n) for x, n in zip(xs, naive, strict=True) if n is not None]
            slot.add(
                ax.scatter(
                    [x for x, _ in marked],
                    [n for _, n in marked],
                    marker="D",
                    color=INK,
                    s=28,
                    label="Reps × quota",
                    zorder=3,
                )
            )
            for x, n in marked:
                slot.add(
                    ax.annotate(
                        f"reps × quota {compact(n, 'currency', currency)}",
                        (x, n),
                        textcoords="offset points",
                        xytext=(6, 0),
                        va="center",
                        fontsize=8,
                        color=INK,
                    )
                )
            top = max([top, *(n for _, n in marked)])
        slot.add(ax.legend(loc="upper left", frameon=False, fontsize=10, ncols=3))
        ax.set_xticks(xs, list(labels))
        ax.set_xlim(-0.6, max(len(xs) - 0.4, 0.6))
        return self._finish(slot, top * 1.1, "currency", currency)


_local = threading.local()


def renderer() -> ChartRenderer:
    """The calling thread's renderer (figures are reused within a thread only)."""
    current: ChartRenderer | None = getattr(_local, "renderer", None)
    if current is None:
        current = ChartRenderer()
        _local.renderer = current
    return current

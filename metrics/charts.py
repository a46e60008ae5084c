"""Charts as PNG bytes (matplotlib Agg, no pyplot): trend vs target, team bars vs target,
funnel, velocity trend and growth-model projection.

One look everywhere: the Okabe-Ito colour-blind-safe palette, large type for Slack's preview
(600×300 px at 100 dpi by default), no chart junk, values printed on bars so colour is never
the only signal. Rendering is fast because a `ChartRenderer` keeps one figure per chart kind
and reuses it: axes are cleared and redrawn, the canvas is rendered once and the RGBA buffer
is encoded with a fast PNG setting. A renderer is not thread-safe: use one per thread
(`renderer()` returns the calling thread's).
"""

from __future__ import annotations

import datetime as dt
import io
import itertools
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle
from matplotlib.text import Text
from matplotlib.ticker import FuncFormatter, MaxNLocator
from matplotlib.transforms import blended_transform_factory, offset_copy
from PIL import Image

from metrics.catalog import currency_symbol

BLUE, ORANGE, GREEN, VERMILLION = "#0072B2", "#E69F00", "#009E73", "#D55E00"
SKY, PURPLE, GREY, INK = "#56B4E9", "#CC79A7", "#9A9A9A", "#222222"
STATUS_COLOURS = {"green": GREEN, "yellow": ORANGE, "red": VERMILLION, "none": GREY}
_RC: dict[str, Any] = {"font.size": 11}


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
    title: Any
    dynamic: list[Any]
    bars: _BarPool | None = None

    def add(self, *artists: Any) -> None:
        self.dynamic.extend(artists)


class _BarPool:
    """Bars, value labels and name labels of the team chart, created once and reused."""

    def __init__(self, ax: Any, fig: Figure) -> None:
        self.ax = ax
        self.down = offset_copy(ax.transData, fig=fig, y=-4, units="points")
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
                ax.text(0, 0, "", ha="center", fontsize=10, fontweight="bold", clip_on=False)
            )
            self.names.append(
                ax.text(0, -0.03, "", ha="center", va="top", color=INK, transform=self.under)
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

    def _slot(self, kind: str, title: str) -> _Slot:
        """The figure for `kind`, styled once; the previous chart's artists are removed
        (cheaper than `cla()`, which rebuilds every tick and spine)."""
        slot = self._slots.get(kind)
        if slot is None:
            size = self.size
            fig = Figure(
                figsize=(size.width_px / size.dpi, size.height_px / size.dpi), dpi=size.dpi
            )
            canvas = FigureCanvasAgg(fig)
            ax = fig.add_axes((0.12, 0.12, 0.85, 0.74))
            for side in ("top", "right"):
                ax.spines[side].set_visible(False)
            for side in ("left", "bottom"):
                ax.spines[side].set_color(GREY)
            ax.tick_params(colors=INK, labelsize=10, length=3)
            ax.grid(axis="y", color="#E6E6E6", linewidth=0.8)
            ax.set_axisbelow(True)
            text = fig.text(0.02, 0.93, "", fontsize=13, color=INK, fontweight="bold")
            slot = self._slots[kind] = _Slot(fig, canvas, ax, text, [])
        for artist in slot.dynamic:
            artist.remove()
        slot.dynamic.clear()
        slot.title.set_text(title)
        return slot

    def _png(self, canvas: FigureCanvasAgg) -> bytes:
        agg: Any = canvas  # parts of the Agg canvas API are untyped
        agg.draw()
        width, height = canvas.get_width_height()
        image = Image.frombuffer("RGBA", (width, height), agg.buffer_rgba(), "raw", "RGBA", 0, 1)
        out = io.BytesIO()
        image.convert("RGB").save(out, format="PNG", compress_level=self.compress_level)
        return out.getvalue()

    def _finish(self, slot: _Slot, top: float, unit: str, currency: str = "USD") -> bytes:
        ax = slot.ax
        ax.set_ylim(0, top * 1.18 if top > 0 else 1.0)
        ax.yaxis.set_major_locator(MaxNLocator(4))
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: compact(v, unit, currency)))
        return self._png(slot.canvas)

    def trend(
        self,
        title: str,
        days: Sequence[dt.date],
        values: Sequence[float],
        *,
        target: float | Sequence[float] | None = None,
        unit: str = "count",
        currency: str = "USD",
    ) -> bytes:
        """Daily (or weekly) values as a line, with the target as a dashed line; money in
        `currency` (the reporting currency's code)."""
        slot = self._slot("trend", title)
        ax = slot.ax
        xs = list(range(len(values)))
        slot.add(
            *ax.plot(
                xs, values, color=BLUE, linewidth=2.2, marker="o", markersize=3.5, label="Actual"
            )
        )
        top = max(values, default=0.0)
        if target is not None:
            line = [float(target)] * len(xs) if isinstance(target, int | float) else list(target)
            slot.add(*ax.plot(xs, line, color=ORANGE, linewidth=1.8, linestyle="--"))
            if line:  # a key in the header: cheaper than a legend and never over the data
                slot.add(
                    slot.fig.text(
                        0.97,
                        0.93,
                        f"- - target {compact(line[-1], unit, currency)}",
                        ha="right",
                        fontsize=11,
                        color=ORANGE,
                        fontweight="bold",
                    )
                )
            top = max(top, *line) if line else top
        step = max(1, -(-len(days) // 6))
        ax.set_xticks(xs[::step], [d.strftime("%b %d") for d in days][::step])
        ax.set_xlim(-0.5, max(len(xs) - 0.5, 0.5))
        return self._finish(slot, top, unit, currency)

    def team_bars(
        self,
        title: str,
        names: Sequence[str],
        values: Sequence[float],
        *,
        targets: Sequence[float | None] | None = None,
        statuses: Sequence[str] | None = None,
        unit: str = "count",
        currency: str = "USD",
    ) -> bytes:
        """One bar per person (or team), coloured by status, with a target tick each.

        The bars, value labels and name labels are pooled artists reused across charts:
        creating ten rectangles and twenty texts per chart, and laying names out as axis tick
        labels, cost more than drawing them."""
        slot = self._slot("bars", title)
        ax = slot.ax
        pool = slot.bars or self._bar_pool(slot)
        n = len(values)
        pool.grow(n)
        top = max([*values, *(t for t in targets or () if t is not None)], default=0.0)
        for x, value in enumerate(values):
            status = statuses[x] if statuses else None
            colour = STATUS_COLOURS.get(status, BLUE) if status else BLUE
            inside = value >= top * 0.18  # inside the bar top, clear of the target tick
            rect, label, name = pool.rects[x], pool.values[x], pool.names[x]
            rect.set_bounds(x - 0.31, 0, 0.62, value)
            rect.set_facecolor(colour)
            label.set_text(compact(value, unit, currency))
            label.set_position((x, value))
            label.set_transform(pool.down if inside else pool.up)
            label.set_verticalalignment("top" if inside else "bottom")
            label.set_color("white" if inside else INK)
            name.set_text(_short(names[x]))
            name.set_x(x)
            name.set_fontsize(9 if n > 8 else 10)
        pool.show(n)
        top = max(values, default=0.0)
        if targets is not None:
            tx = [x for x, t in zip(range(n), targets, strict=True) if t is not None]
            ty = [t for t in targets if t is not None]
            slot.add(
                ax.scatter(
                    tx, ty, marker="_", s=900, color=INK, linewidths=2, label="Target", zorder=3
                )
            )
            slot.add(  # a key in the header instead of a legend (cheaper, never over bars)
                slot.fig.text(
                    0.97, 0.93, "— target", ha="right", fontsize=11, color=INK, fontweight="bold"
                )
            )
            top = max(top, *ty) if ty else top
        ax.set_xlim(-0.6, max(n - 0.4, 0.6))
        return self._finish(slot, top, unit, currency)

    def _bar_pool(self, slot: _Slot) -> _BarPool:
        ax = slot.ax
        ax.set_xticks([])  # names are pooled texts under the bars, not tick labels
        slot.bars = _BarPool(ax, slot.fig)
        return slot.bars

    def funnel(self, title: str, steps: Sequence[tuple[str, float]]) -> bytes:
        """Horizontal funnel bars, widest first, with counts and step conversion."""
        slot = self._slot("funnel", title)
        ax = slot.ax
        if not slot.dynamic and ax.get_position().x0 < 0.2:
            ax.set_position((0.25, 0.05, 0.72, 0.8))
            ax.grid(False)
            ax.xaxis.set_visible(False)
            ax.spines["bottom"].set_visible(False)
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
                ax.text(count + top * 0.01, y, f"{compact(count)}{conv}", va="center", fontsize=10)
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


def _short(name: str, limit: int = 10) -> str:
    return name if len(name) <= limit else name[: limit - 1] + "…"


_local = threading.local()


def renderer() -> ChartRenderer:
    """The calling thread's renderer (figures are reused within a thread only)."""
    current: ChartRenderer | None = getattr(_local, "renderer", None)
    if current is None:
        current = ChartRenderer()
        _local.renderer = current
    return current

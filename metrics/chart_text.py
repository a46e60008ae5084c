"""How wide a chart's text is, and making it fit: `TextFitter` measures a line with the
font the charts draw with (the Agg renderer's own metrics, cached), shrinks a title to its
line, cuts text with "…" and puts a name on two lines under a narrow bar.

One per `metrics.charts.ChartRenderer` (so per thread, as the renderer); pixels are at the
charts' dpi.
"""

from __future__ import annotations

from typing import Any

from matplotlib.backends.backend_agg import RendererAgg
from matplotlib.font_manager import FontProperties

_CACHE_MAX = 4096  # (text, size, weight) widths kept; names and labels repeat across charts


class TextFitter:
    def __init__(self, dpi: float) -> None:
        self.dpi = dpi
        agg: Any = RendererAgg  # untyped in matplotlib
        self._measure: Any = agg(1, 1, 72)  # extents in points
        self._widths: dict[tuple[str, float, bool], float] = {}

    def width(self, text: str, size: float, bold: bool = False) -> float:
        """The width in pixels of one line of `text` at `size` points."""
        key = (text, size, bold)
        points = self._widths.get(key)
        if points is None:
            if len(self._widths) > _CACHE_MAX:
                self._widths.clear()
            prop = FontProperties(size=size, weight="bold" if bold else "normal")
            points = self._measure.get_text_width_height_descent(text, prop, ismath=False)[0]
            self._widths[key] = points
        return points * self.dpi / 72

    def clip(self, text: str, max_px: float, size: float, bold: bool = False) -> str:
        """`text` cut to fit `max_px` with an ellipsis (whole if it fits)."""
        if self.width(text, size, bold) <= max_px:
            return text
        keep = max(1, int(len(text) * max_px / self.width(text, size, bold)))
        while keep > 1 and self.width(text[:keep].rstrip() + "…", size, bold) > max_px:
            keep -= 1
        return text[:keep].rstrip() + "…"

    def fit(self, text: str, max_px: float, size: float, smallest: float) -> tuple[str, float]:
        """Bold `text` at the largest size from `size` down to `smallest` (1 pt steps) that
        fits `max_px`, else clipped at `smallest`; (text, size)."""
        while size > smallest and self.width(text, size, True) > max_px:
            size -= 1.0
        return self.clip(text, max_px, size, True), size

    def lines(self, name: str, max_px: float, size: float) -> str:
        """`name` on one line, else two (at a space), a line clipped only when a word does
        not fit: "Account Executives" under a narrow bar is "Account" / "Executives"."""
        if self.width(name, size) <= max_px:
            return name
        words = name.split()
        for cut in range(len(words) - 1, 0, -1):
            first = " ".join(words[:cut])
            if self.width(first, size) <= max_px:
                return first + "\n" + self.clip(" ".join(words[cut:]), max_px, size)
        return self.clip(name, max_px, size)

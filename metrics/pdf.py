"""A small multi-page PDF writer on matplotlib: text pages and image pages, A4 landscape.

Used for the month's pack (review, digests, charts). No pyplot: figures are created and
closed explicitly, so it is safe off the main thread.
"""

from __future__ import annotations

import io
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass

from matplotlib.backends.backend_pdf import PdfPages
from matplotlib.figure import Figure
from matplotlib.image import imread

A4_LANDSCAPE = (11.69, 8.27)
LINES_PER_PAGE = 44
WRAP = 120


@dataclass(frozen=True)
class TextPage:
    title: str
    lines: Sequence[str]


@dataclass(frozen=True)
class ImagePage:
    title: str
    png: bytes


def printable(text: str) -> str:
    """Text the PDF fonts can draw: no emoji or pictographs, and `$` not read as math."""
    kept = "".join(ch for ch in text if ord(ch) < 0x2600 and (ch.isprintable() or ch == "\t"))
    return kept.replace("$", r"\$")


def _wrapped(lines: Sequence[str]) -> list[str]:
    out: list[str] = []
    for line in map(printable, lines):
        out.extend(textwrap.wrap(line, WRAP, subsequent_indent="    ") or [""])
    return out


def write_pdf(pages: Sequence[TextPage | ImagePage], *, title: str) -> bytes:
    """The pages as one PDF (long text pages continue over several sheets)."""
    buffer = io.BytesIO()
    with PdfPages(buffer, metadata={"Title": title, "Creator": "Drumbeat"}) as pdf:
        for page in pages:
            if isinstance(page, ImagePage):
                fig = Figure(figsize=A4_LANDSCAPE)
                fig.suptitle(printable(page.title), fontsize=16, x=0.05, ha="left")
                ax = fig.add_axes((0.05, 0.05, 0.9, 0.85))
                ax.imshow(imread(io.BytesIO(page.png), format="png"))
                ax.axis("off")
                pdf.savefig(fig)
                continue
            lines = _wrapped(page.lines) or ["(nothing recorded)"]
            for n, start in enumerate(range(0, len(lines), LINES_PER_PAGE)):
                fig = Figure(figsize=A4_LANDSCAPE)
                heading = printable(page.title) + ("" if n == 0 else " (continued)")
                fig.text(0.05, 0.95, heading, fontsize=16, va="top", weight="bold")
                fig.text(
                    0.05,
                    0.90,
                    "\n".join(lines[start : start + LINES_PER_PAGE]),
                    fontsize=9,
                    va="top",
                    family="DejaVu Sans",
                )
                pdf.savefig(fig)
    return buffer.getvalue()

from __future__ import annotations

from rhythms import blocks as bk


def test_sparkline_scales_to_the_largest_value() -> None:
    assert bk.sparkline([0, 1, 2, 3, 4, 5, 6, 7]) == "▁▂▃▄▅▆▇█"
    assert bk.sparkline([0, 0, 0]) == "▁▁▁"
    assert bk.sparkline([5, 10]) == "▅█"
    assert bk.sparkline([]) == ""


def test_progress_bar_clamps() -> None:
    assert bk.progress_bar(0.5) == "▰▰▰▰▰▱▱▱▱▱"
    assert bk.progress_bar(2.0, width=4) == "▰▰▰▰"
    assert bk.progress_bar(-1.0, width=4) == "▱▱▱▱"
    assert bk.progress_bar(float("nan"), width=2) == "▱▱"


def test_text_is_clipped_to_slack_limits() -> None:
    head = bk.header("x" * 500)
    assert len(head["text"]["text"]) == bk.HEADER_MAX and head["text"]["text"].endswith("…")
    sec = bk.section("y" * 5000)
    assert len(sec["text"]["text"]) == bk.SECTION_TEXT_MAX
    many = bk.fields([f"f{i}" for i in range(15)])
    assert len(many["fields"]) == bk.FIELDS_MAX
    view = bk.modal("A title far longer than twenty-four", [bk.divider()] * 150)
    assert len(view["title"]["text"]) == bk.MODAL_TITLE_MAX and len(view["blocks"]) == 100


def test_chunk_lines_packs_without_splitting_lines() -> None:
    lines = [f"line {i:03d} " + "z" * 90 for i in range(100)]
    chunks = bk.chunk_lines(lines, limit=1000)
    assert all(len(c) <= 1000 for c in chunks)
    assert "\n".join(chunks).split("\n") == lines


def test_numbers_and_joins() -> None:
    assert bk.fmt_number(42.0) == "42"
    assert bk.fmt_number(0.6) == "0.6"
    assert bk.fmt_number(12500, "currency") == "$12k"
    assert bk.fmt_number(1500, "currency", "EUR") == "€1.5k"
    assert bk.fmt_number(0.38, "percent") == "38%"
    assert bk.human_join(["a"]) == "a"
    assert bk.human_join(["a", "b", "c"]) == "a, b and c"

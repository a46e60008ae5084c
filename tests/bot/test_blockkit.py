"""Block Kit limits (bot.sandbox.blockkit) and Drumbeat's own builders staying inside them."""

from __future__ import annotations

import datetime as dt

import pytest

from bot.home import HomeData, home_view
from bot.sandbox.blockkit import validate_blocks, validate_view


def section(text: str) -> dict[str, object]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def test_valid_message_passes() -> None:
    blocks = [
        {"type": "header", "text": {"type": "plain_text", "text": "Scoreboard"}},
        section("*Calls* 12 / 20"),
        {"type": "divider"},
        {"type": "context", "elements": [{"type": "mrkdwn", "text": "as of 2 pm"}]},
        {
            "type": "actions",
            "elements": [
                {
                    "type": "button",
                    "text": {"type": "plain_text", "text": "Why?"},
                    "action_id": "why",
                }
            ],
        },
    ]
    assert validate_blocks(blocks, "message") == []


@pytest.mark.parametrize(
    ("blocks", "pointer"),
    [
        ([{"type": "divider"}] * 51, "/blocks]"),
        ([section("x" * 3001)], "/blocks/0/text/text]"),
        ([section("")], "/blocks/0/text/text]"),
        (
            [{"type": "header", "text": {"type": "plain_text", "text": "h" * 151}}],
            "/blocks/0/text/text]",
        ),
        ([{"type": "header", "text": {"type": "mrkdwn", "text": "*h*"}}], "/blocks/0/text/type]"),
        (
            [{"type": "section", "fields": [{"type": "mrkdwn", "text": "f"}] * 11}],
            "/blocks/0/fields]",
        ),
        (
            [{"type": "section", "block_id": "b" * 256, "text": {"type": "mrkdwn", "text": "t"}}],
            "/blocks/0/block_id]",
        ),
        (
            [section("a") | {"block_id": "same"}, section("b") | {"block_id": "same"}],
            "/blocks/1/block_id]",
        ),
        (
            [
                {
                    "type": "actions",
                    "elements": [
                        {"type": "button", "text": {"type": "plain_text", "text": "b" * 76}}
                    ],
                }
            ],
            "/blocks/0/elements/0/text/text]",
        ),
        ([{"type": "image", "image_url": "https://x/y.png"}], "/blocks/0/alt_text]"),
        ([{"type": "bogus"}], "/blocks/0/type]"),
    ],
)
def test_limits_are_enforced_with_json_pointers(blocks: list[object], pointer: str) -> None:
    problems = validate_blocks(blocks, "message")
    assert problems and problems[0].endswith(f"[json-pointer:{pointer}")


def test_views_allow_100_blocks_and_check_modal_title() -> None:
    blocks = [section(str(i)) for i in range(100)]
    assert validate_blocks(blocks, "modal") == []
    assert validate_blocks([*blocks, section("one more")], "home")
    modal = {
        "type": "modal",
        "title": {"type": "plain_text", "text": "MAPLE update"},
        "blocks": blocks,
    }
    assert validate_view(modal) == []
    long_title = dict(modal, title={"type": "plain_text", "text": "x" * 25})
    assert any("/view/title/text" in p for p in validate_view(long_title))
    with_input = {
        "type": "modal",
        "title": {"type": "plain_text", "text": "T"},
        "blocks": [
            {
                "type": "input",
                "label": {"type": "plain_text", "text": "Metrics"},
                "element": {"type": "plain_text_input", "action_id": "m"},
            }
        ],
    }
    assert any("submit is required" in p for p in validate_view(with_input))


def test_home_view_stays_inside_the_limits() -> None:
    recent = tuple(
        ("daily_scoreboard", dt.datetime(2026, 11, 20 + i % 3, tzinfo=dt.UTC)) for i in range(8)
    )
    known = HomeData("U1", "Dana " + "x" * 400, "rep", "SDR", recent)
    unknown = HomeData("U2", None, None, None, ())
    for data in (known, unknown):
        assert validate_view(home_view(data)) == []

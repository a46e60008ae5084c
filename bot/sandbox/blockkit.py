"""Block Kit limits, as Slack enforces them (see ``refs/slack/slack_limits.json``).

`validate_blocks(blocks, surface)` returns one message per problem, each ending in a JSON
pointer the way Slack's ``invalid_blocks`` answers do (``[json-pointer:/blocks/3/text/text]``);
an empty list means Slack would accept the blocks. `validate_view(view)` checks a modal or
Home tab view as a whole. Other packages' tests call these to prove their builders stay inside
the limits; the sandbox calls them on every message and view it receives.
"""

from __future__ import annotations

from typing import Any, Literal

Surface = Literal["message", "modal", "home"]

MAX_BLOCKS = {"message": 50, "modal": 100, "home": 100}
SECTION_TEXT_MAX = 3000
SECTION_FIELDS_MAX = 10
FIELD_TEXT_MAX = 2000
HEADER_TEXT_MAX = 150
BLOCK_ID_MAX = 255
ACTION_ID_MAX = 255
ACTIONS_ELEMENTS_MAX = 25
CONTEXT_ELEMENTS_MAX = 10
MARKDOWN_BLOCK_MAX = 12000
BUTTON_TEXT_MAX = 75
BUTTON_VALUE_MAX = 2000
URL_MAX = 3000
PLACEHOLDER_MAX = 150
OPTION_TEXT_MAX = 75
OPTION_VALUE_MAX = 150
OPTIONS_MAX = 100
MODAL_TITLE_MAX = 24
MODAL_BUTTON_MAX = 24
PRIVATE_METADATA_MAX = 3000
CALLBACK_ID_MAX = 255
INPUT_LABEL_MAX = 2000
IMAGE_ALT_MAX = 2000

KNOWN_BLOCKS = {
    "section",
    "header",
    "divider",
    "context",
    "actions",
    "image",
    "input",
    "rich_text",
    "markdown",
    "file",
    "video",
}
TEXT_TYPES = {"plain_text", "mrkdwn"}


def validate_blocks(blocks: Any, surface: Surface = "message") -> list[str]:
    """Every Block Kit problem in `blocks` for `surface` ("message", "modal" or "home")."""
    problems: list[str] = []
    if not isinstance(blocks, list):
        return ["blocks must be an array [json-pointer:/blocks]"]
    limit = MAX_BLOCKS[surface]
    if len(blocks) > limit:
        problems.append(f"no more than {limit} items allowed [json-pointer:/blocks]")
    block_ids: set[str] = set()
    for i, block in enumerate(blocks):
        _block(block, f"/blocks/{i}", surface, block_ids, problems)
    return problems


def validate_view(view: Any) -> list[str]:
    """Every problem in a modal or Home tab view (title, buttons, metadata and its blocks)."""
    if not isinstance(view, dict):
        return ["view must be an object [json-pointer:/view]"]
    kind = view.get("type")
    if kind not in ("modal", "home"):
        return [f"unsupported view type {kind!r} [json-pointer:/view/type]"]
    problems: list[str] = []
    if kind == "modal":
        _text(view.get("title"), "/view/title", problems, MODAL_TITLE_MAX, plain=True)
        for key in ("submit", "close"):
            if key in view:
                _text(view[key], f"/view/{key}", problems, MODAL_BUTTON_MAX, plain=True)
        has_input = any(isinstance(b, dict) and b.get("type") == "input" for b in _list(view))
        if has_input and "submit" not in view:
            problems.append("submit is required with input blocks [json-pointer:/view]")
    _max_str(view.get("private_metadata"), "/view/private_metadata", PRIVATE_METADATA_MAX, problems)
    _max_str(view.get("callback_id"), "/view/callback_id", CALLBACK_ID_MAX, problems)
    problems += [
        p.replace("[json-pointer:/", "[json-pointer:/view/")
        for p in validate_blocks(view.get("blocks", []), "modal" if kind == "modal" else "home")
    ]
    return problems


def _list(view: dict[str, Any]) -> list[Any]:
    blocks = view.get("blocks", [])
    return blocks if isinstance(blocks, list) else []


def _block(
    block: Any, ptr: str, surface: Surface, block_ids: set[str], problems: list[str]
) -> None:
    if not isinstance(block, dict):
        problems.append(f"block must be an object [json-pointer:{ptr}]")
        return
    kind = block.get("type")
    if kind not in KNOWN_BLOCKS:
        problems.append(f"unknown block type {kind!r} [json-pointer:{ptr}/type]")
        return
    block_id = block.get("block_id")
    if block_id is not None:
        _max_str(block_id, f"{ptr}/block_id", BLOCK_ID_MAX, problems)
        if block_id in block_ids:
            problems.append(f"duplicate block_id {block_id!r} [json-pointer:{ptr}/block_id]")
        block_ids.add(str(block_id))
    if kind == "section":
        _section(block, ptr, problems)
    elif kind == "header":
        _text(block.get("text"), f"{ptr}/text", problems, HEADER_TEXT_MAX, plain=True)
    elif kind == "context":
        _elements(block, ptr, problems, CONTEXT_ELEMENTS_MAX)
        for j, element in enumerate(block.get("elements") or []):
            if isinstance(element, dict) and element.get("type") in TEXT_TYPES:
                _text(element, f"{ptr}/elements/{j}", problems, SECTION_TEXT_MAX)
    elif kind == "actions":
        _elements(block, ptr, problems, ACTIONS_ELEMENTS_MAX)
        for j, element in enumerate(block.get("elements") or []):
            _element(element, f"{ptr}/elements/{j}", problems)
    elif kind == "image":
        _max_str(block.get("image_url"), f"{ptr}/image_url", URL_MAX, problems)
        if not block.get("image_url") and not block.get("slack_file"):
            problems.append(f"image_url or slack_file is required [json-pointer:{ptr}]")
        _required_str(block.get("alt_text"), f"{ptr}/alt_text", IMAGE_ALT_MAX, problems)
    elif kind == "input":
        _text(block.get("label"), f"{ptr}/label", problems, INPUT_LABEL_MAX, plain=True)
        _element(block.get("element"), f"{ptr}/element", problems)
    elif kind == "markdown":
        _required_str(block.get("text"), f"{ptr}/text", MARKDOWN_BLOCK_MAX, problems)


def _section(block: dict[str, Any], ptr: str, problems: list[str]) -> None:
    text, fields = block.get("text"), block.get("fields")
    if text is None and not fields:
        problems.append(f"must provide text or fields [json-pointer:{ptr}]")
    if text is not None:
        _text(text, f"{ptr}/text", problems, SECTION_TEXT_MAX)
    if fields is not None:
        if not isinstance(fields, list):
            problems.append(f"fields must be an array [json-pointer:{ptr}/fields]")
        else:
            if len(fields) > SECTION_FIELDS_MAX:
                problems.append(
                    f"no more than {SECTION_FIELDS_MAX} items allowed [json-pointer:{ptr}/fields]"
                )
            for j, field in enumerate(fields):
                _text(field, f"{ptr}/fields/{j}", problems, FIELD_TEXT_MAX)
    if "accessory" in block:
        _element(block["accessory"], f"{ptr}/accessory", problems)


def _elements(block: dict[str, Any], ptr: str, problems: list[str], limit: int) -> None:
    elements = block.get("elements")
    if not isinstance(elements, list) or not elements:
        problems.append(f"must provide at least 1 element [json-pointer:{ptr}/elements]")
    elif len(elements) > limit:
        problems.append(f"no more than {limit} items allowed [json-pointer:{ptr}/elements]")


def _element(element: Any, ptr: str, problems: list[str]) -> None:
    if not isinstance(element, dict) or not element.get("type"):
        problems.append(f"element must be an object with a type [json-pointer:{ptr}]")
        return
    _max_str(element.get("action_id"), f"{ptr}/action_id", ACTION_ID_MAX, problems)
    kind = element["type"]
    if kind == "button":
        _text(element.get("text"), f"{ptr}/text", problems, BUTTON_TEXT_MAX, plain=True)
        _max_str(element.get("value"), f"{ptr}/value", BUTTON_VALUE_MAX, problems)
        _max_str(element.get("url"), f"{ptr}/url", URL_MAX, problems)
    if "placeholder" in element:
        _text(element["placeholder"], f"{ptr}/placeholder", problems, PLACEHOLDER_MAX, plain=True)
    if kind == "plain_text_input":
        for key, low in (("max_length", 1), ("min_length", 0)):
            value = element.get(key)
            if value is not None and not (isinstance(value, int) and low <= value <= 3000):
                problems.append(f"{key} must be {low}..3000 [json-pointer:{ptr}/{key}]")
    options = element.get("options")
    if options is not None:
        if not isinstance(options, list) or len(options) > OPTIONS_MAX:
            problems.append(f"no more than {OPTIONS_MAX} options [json-pointer:{ptr}/options]")
        else:
            for j, option in enumerate(options):
                _option(option, f"{ptr}/options/{j}", problems)


def _option(option: Any, ptr: str, problems: list[str]) -> None:
    if not isinstance(option, dict):
        problems.append(f"option must be an object [json-pointer:{ptr}]")
        return
    _text(option.get("text"), f"{ptr}/text", problems, OPTION_TEXT_MAX)
    _required_str(option.get("value"), f"{ptr}/value", OPTION_VALUE_MAX, problems)


def _text(obj: Any, ptr: str, problems: list[str], limit: int, *, plain: bool = False) -> None:
    if not isinstance(obj, dict):
        problems.append(f"must be a text object [json-pointer:{ptr}]")
        return
    kind = obj.get("type")
    if kind not in TEXT_TYPES or (plain and kind != "plain_text"):
        wanted = "plain_text" if plain else "plain_text or mrkdwn"
        problems.append(f"must be of type {wanted} [json-pointer:{ptr}/type]")
    _required_str(obj.get("text"), f"{ptr}/text", limit, problems)


def _required_str(value: Any, ptr: str, limit: int, problems: list[str]) -> None:
    if not isinstance(value, str) or not value:
        problems.append(f"must be more than 0 characters [json-pointer:{ptr}]")
    else:
        _max_str(value, ptr, limit, problems)


def _max_str(value: Any, ptr: str, limit: int, problems: list[str]) -> None:
    if value is None:
        return
    if not isinstance(value, str):
        problems.append(f"must be a string [json-pointer:{ptr}]")
    elif len(value) > limit:
        problems.append(f"must be less than {limit + 1} characters [json-pointer:{ptr}]")

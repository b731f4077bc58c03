"""Block Kit validation as Slack's API does it for messages: `invalid_blocks` with json-pointer details.

Slack refuses the whole message when one property breaks a rule, and names every problem as
`<reason> [json-pointer:/blocks/N/...]` (in `errors`, and with an `[ERROR] ` prefix in
`response_metadata.messages`). The wording of the common reasons follows what Slack answers
("must be less than 3001 characters", "no more than 50 items allowed", "must define either `text` or
`fields`", "unsupported type: X", "invalid additional property: X"). Pure: no I/O.
"""

from __future__ import annotations

import json
import random
import string
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

MAX_BLOCKS = 50
TEXT_TYPES = ("plain_text", "mrkdwn")


class BlocksFormatError(ValueError):
    """`blocks` is not a JSON array of objects (Slack: `invalid_blocks_format`)."""


def parse_blocks(raw: Any) -> list[dict[str, Any]] | None:
    """Blocks from a JSON body (a list) or a form field (a JSON string); None when absent."""
    if raw is None:
        return None
    if isinstance(raw, str):
        if raw.strip() == "":
            return None
        try:
            raw = json.loads(raw)
        except ValueError:
            raise BlocksFormatError("blocks is not valid JSON") from None
    if not isinstance(raw, list):
        raise BlocksFormatError("blocks must be an array")
    return raw


@dataclass
class _Check:
    errors: list[str] = field(default_factory=list)
    action_ids: set[str] = field(default_factory=set)
    block_ids: set[str] = field(default_factory=set)

    def fail(self, pointer: str, reason: str) -> None:
        self.errors.append(f"{reason} [json-pointer:{pointer}]")


def validate_blocks(blocks: list[Any]) -> list[str]:
    """Every problem Slack would report for these message blocks; [] when Slack accepts them."""
    check = _Check()
    if len(blocks) > MAX_BLOCKS:
        check.fail("/blocks", f"no more than {MAX_BLOCKS} items allowed")
    for i, block in enumerate(blocks):
        _block(check, f"/blocks/{i}", block)
    return check.errors


# --- primitives ---------------------------------------------------------------------------------------------


def _is_obj(check: _Check, ptr: str, value: Any) -> bool:
    if not isinstance(value, dict):
        check.fail(ptr, "must provide an object")
        return False
    return True


def _string(check: _Check, ptr: str, value: Any, max_len: int, *, min_len: int = 1) -> None:
    if not isinstance(value, str):
        check.fail(ptr, "must provide a string")
    elif len(value) < min_len:
        check.fail(ptr, f"must be more than {min_len - 1} characters")
    elif len(value) > max_len:
        check.fail(ptr, f"must be less than {max_len + 1} characters")


def _bool(check: _Check, ptr: str, value: Any) -> None:
    if not isinstance(value, bool):
        check.fail(ptr, "must provide a boolean")


def _allowed_keys(check: _Check, ptr: str, obj: dict[str, Any], allowed: set[str]) -> None:
    for key in obj:
        if key not in allowed:
            check.fail(ptr, f"invalid additional property: {key}")


def _required(check: _Check, ptr: str, obj: dict[str, Any], *keys: str) -> bool:
    missing = [k for k in keys if k not in obj]
    for key in missing:
        check.fail(ptr, f"missing required field: {key}")
    return not missing


def _text(check: _Check, ptr: str, value: Any, max_len: int, *, types: tuple[str, ...] = TEXT_TYPES) -> None:
    """A text object: plain_text (emoji) or mrkdwn (verbatim)."""
    if not _is_obj(check, ptr, value):
        return
    kind = value.get("type")
    if kind not in TEXT_TYPES or kind not in types:
        check.fail(ptr, "failed to match all allowed schemas")
        check.fail(f"{ptr}/type", "must be a valid enum value")
        return
    extra = "emoji" if kind == "plain_text" else "verbatim"
    _allowed_keys(check, ptr, value, {"type", "text", extra})
    if not _required(check, ptr, value, "text"):
        return
    _string(check, f"{ptr}/text", value["text"], max_len)
    if extra in value:
        _bool(check, f"{ptr}/{extra}", value[extra])


def _plain(check: _Check, ptr: str, value: Any, max_len: int) -> None:
    _text(check, ptr, value, max_len, types=("plain_text",))


def _items(check: _Check, ptr: str, value: Any, max_items: int, *, min_items: int = 1) -> list[Any]:
    if not isinstance(value, list):
        check.fail(ptr, "must provide an array")
        return []
    if len(value) < min_items:
        check.fail(ptr, f"must provide at least {min_items} items")
    if len(value) > max_items:
        check.fail(ptr, f"no more than {max_items} items allowed")
    return value


def _unique_id(check: _Check, ptr: str, obj: dict[str, Any], key: str, seen: set[str]) -> None:
    """block_id / action_id: optional, at most 255 characters, unique within the message."""
    if key not in obj:
        return
    value = obj[key]
    _string(check, f"{ptr}/{key}", value, 255)
    if isinstance(value, str):
        if value in seen:
            check.fail(f"{ptr}/{key}", f"duplicate {key}: {value}")
        seen.add(value)


def _action_id(check: _Check, ptr: str, element: dict[str, Any]) -> None:
    _unique_id(check, ptr, element, "action_id", check.action_ids)


def _url(check: _Check, ptr: str, value: Any, max_len: int = 3000) -> None:
    _string(check, ptr, value, max_len)


# --- composition objects ------------------------------------------------------------------------------------


def _confirm(check: _Check, ptr: str, value: Any) -> None:
    if not _is_obj(check, ptr, value):
        return
    _allowed_keys(check, ptr, value, {"title", "text", "confirm", "deny", "style"})
    _required(check, ptr, value, "title", "text", "confirm", "deny")
    if "title" in value:
        _plain(check, f"{ptr}/title", value["title"], 100)
    if "text" in value:
        _text(check, f"{ptr}/text", value["text"], 300)
    for key in ("confirm", "deny"):
        if key in value:
            _plain(check, f"{ptr}/{key}", value[key], 30)
    if "style" in value and value["style"] not in ("primary", "danger"):
        check.fail(f"{ptr}/style", "must be a valid enum value")


def _option(check: _Check, ptr: str, value: Any, *, text_max: int = 75) -> None:
    if not _is_obj(check, ptr, value):
        return
    _allowed_keys(check, ptr, value, {"text", "value", "description", "url"})
    _required(check, ptr, value, "text", "value")
    if "text" in value:
        _text(check, f"{ptr}/text", value["text"], text_max)
    if "value" in value:
        _string(check, f"{ptr}/value", value["value"], 150)
    if "description" in value:
        _text(check, f"{ptr}/description", value["description"], 75)
    if "url" in value:
        _url(check, f"{ptr}/url", value["url"])


# --- elements -----------------------------------------------------------------------------------------------


def _button(check: _Check, ptr: str, el: dict[str, Any]) -> None:
    _allowed_keys(
        check,
        ptr,
        el,
        {"type", "text", "action_id", "url", "value", "style", "confirm", "accessibility_label"},
    )
    if _required(check, ptr, el, "text"):
        _plain(check, f"{ptr}/text", el["text"], 75)
    _action_id(check, ptr, el)
    if "url" in el:
        _url(check, f"{ptr}/url", el["url"])
    if "value" in el:
        _string(check, f"{ptr}/value", el["value"], 2000)
    if "style" in el and el["style"] not in ("primary", "danger"):
        check.fail(f"{ptr}/style", "must be a valid enum value")
    if "confirm" in el:
        _confirm(check, f"{ptr}/confirm", el["confirm"])
    if "accessibility_label" in el:
        _string(check, f"{ptr}/accessibility_label", el["accessibility_label"], 75)


def _static_select(check: _Check, ptr: str, el: dict[str, Any]) -> None:
    _allowed_keys(
        check,
        ptr,
        el,
        {
            "type",
            "action_id",
            "placeholder",
            "options",
            "option_groups",
            "initial_option",
            "confirm",
            "focus_on_load",
        },
    )
    _action_id(check, ptr, el)
    if "placeholder" in el:
        _plain(check, f"{ptr}/placeholder", el["placeholder"], 150)
    if "options" in el:
        for i, opt in enumerate(_items(check, f"{ptr}/options", el["options"], 100)):
            _option(check, f"{ptr}/options/{i}", opt)
    elif "option_groups" not in el:
        check.fail(ptr, "must define either `options` or `option_groups`")
    if "initial_option" in el:
        _option(check, f"{ptr}/initial_option", el["initial_option"])
    if "confirm" in el:
        _confirm(check, f"{ptr}/confirm", el["confirm"])


def _overflow(check: _Check, ptr: str, el: dict[str, Any]) -> None:
    _allowed_keys(check, ptr, el, {"type", "action_id", "options", "confirm"})
    _action_id(check, ptr, el)
    if _required(check, ptr, el, "options"):
        for i, opt in enumerate(_items(check, f"{ptr}/options", el["options"], 5)):
            _option(check, f"{ptr}/options/{i}", opt)
    if "confirm" in el:
        _confirm(check, f"{ptr}/confirm", el["confirm"])


def _image_element(check: _Check, ptr: str, el: dict[str, Any]) -> None:
    _allowed_keys(check, ptr, el, {"type", "image_url", "slack_file", "alt_text"})
    if "image_url" in el:
        _url(check, f"{ptr}/image_url", el["image_url"])
    elif "slack_file" not in el:
        check.fail(ptr, "must define either `image_url` or `slack_file`")
    if _required(check, ptr, el, "alt_text"):
        _string(check, f"{ptr}/alt_text", el["alt_text"], 2000)


def _other_interactive(check: _Check, ptr: str, el: dict[str, Any]) -> None:
    """Pickers and selects helmbot does not render: typed, and their action_id counted, no deeper."""
    _action_id(check, ptr, el)
    if "confirm" in el:
        _confirm(check, f"{ptr}/confirm", el["confirm"])


ElementCheck = Callable[[_Check, str, dict[str, Any]], None]
_OTHER_INTERACTIVE = (
    "checkboxes",
    "datepicker",
    "datetimepicker",
    "timepicker",
    "radio_buttons",
    "external_select",
    "users_select",
    "conversations_select",
    "channels_select",
    "multi_static_select",
    "multi_external_select",
    "multi_users_select",
    "multi_conversations_select",
    "multi_channels_select",
    "workflow_button",
)
INTERACTIVE: dict[str, ElementCheck] = {
    "button": _button,
    "static_select": _static_select,
    "overflow": _overflow,
    **dict.fromkeys(_OTHER_INTERACTIVE, _other_interactive),
}
ACCESSORIES: dict[str, ElementCheck] = {**INTERACTIVE, "image": _image_element}
ACCESSORIES.pop("workflow_button")


def _element(check: _Check, ptr: str, value: Any, allowed: dict[str, ElementCheck]) -> None:
    if not _is_obj(check, ptr, value):
        return
    kind = value.get("type")
    fn = allowed.get(kind) if isinstance(kind, str) else None
    if fn is None:
        check.fail(f"{ptr}/type", f"unsupported type: {kind}")
        return
    fn(check, ptr, value)


# --- blocks -------------------------------------------------------------------------------------------------


def _section(check: _Check, ptr: str, block: dict[str, Any]) -> None:
    _allowed_keys(check, ptr, block, {"type", "block_id", "text", "fields", "accessory", "expand"})
    if "text" not in block and "fields" not in block:
        check.fail(f"{ptr}/type", "must define either `text` or `fields`")
    if "text" in block:
        _text(check, f"{ptr}/text", block["text"], 3000)
    if "fields" in block:
        for i, f in enumerate(_items(check, f"{ptr}/fields", block["fields"], 10)):
            _text(check, f"{ptr}/fields/{i}", f, 2000)
    if "accessory" in block:
        _element(check, f"{ptr}/accessory", block["accessory"], ACCESSORIES)
    if "expand" in block:
        _bool(check, f"{ptr}/expand", block["expand"])


def _divider(check: _Check, ptr: str, block: dict[str, Any]) -> None:
    _allowed_keys(check, ptr, block, {"type", "block_id"})


def _header(check: _Check, ptr: str, block: dict[str, Any]) -> None:
    _allowed_keys(check, ptr, block, {"type", "block_id", "text"})
    if _required(check, ptr, block, "text"):
        _plain(check, f"{ptr}/text", block["text"], 150)


def _context(check: _Check, ptr: str, block: dict[str, Any]) -> None:
    _allowed_keys(check, ptr, block, {"type", "block_id", "elements"})
    if not _required(check, ptr, block, "elements"):
        return
    for i, el in enumerate(_items(check, f"{ptr}/elements", block["elements"], 10)):
        el_ptr = f"{ptr}/elements/{i}"
        if isinstance(el, dict) and el.get("type") == "image":
            _image_element(check, el_ptr, el)
        elif isinstance(el, dict) and el.get("type") not in TEXT_TYPES:
            check.fail(f"{el_ptr}/type", f"unsupported type: {el.get('type')}")
        else:
            _text(check, el_ptr, el, 3000)


def _actions(check: _Check, ptr: str, block: dict[str, Any]) -> None:
    _allowed_keys(check, ptr, block, {"type", "block_id", "elements"})
    if _required(check, ptr, block, "elements"):
        for i, el in enumerate(_items(check, f"{ptr}/elements", block["elements"], 25)):
            _element(check, f"{ptr}/elements/{i}", el, INTERACTIVE)


def _image(check: _Check, ptr: str, block: dict[str, Any]) -> None:
    _allowed_keys(check, ptr, block, {"type", "block_id", "image_url", "slack_file", "alt_text", "title"})
    _image_element(check, ptr, {k: v for k, v in block.items() if k not in ("block_id", "title")})
    if "title" in block:
        _plain(check, f"{ptr}/title", block["title"], 2000)


def _rich_text(check: _Check, ptr: str, block: dict[str, Any]) -> None:
    _allowed_keys(check, ptr, block, {"type", "block_id", "elements"})
    if not _required(check, ptr, block, "elements"):
        return
    kinds = ("rich_text_section", "rich_text_list", "rich_text_preformatted", "rich_text_quote")
    for i, el in enumerate(_items(check, f"{ptr}/elements", block["elements"], 100, min_items=0)):
        if _is_obj(check, f"{ptr}/elements/{i}", el) and el.get("type") not in kinds:
            check.fail(f"{ptr}/elements/{i}/type", f"unsupported type: {el.get('type')}")


def _markdown(check: _Check, ptr: str, block: dict[str, Any]) -> None:
    _allowed_keys(check, ptr, block, {"type", "block_id", "text"})
    if _required(check, ptr, block, "text"):
        _string(check, f"{ptr}/text", block["text"], 12000)


def _loose(*keys: str) -> ElementCheck:
    """Blocks helmbot never sends (input, file, video, table): known keys only, contents unchecked."""

    def check_keys(check: _Check, ptr: str, block: dict[str, Any]) -> None:
        _allowed_keys(check, ptr, block, {"type", "block_id", *keys})

    return check_keys


BLOCKS: dict[str, ElementCheck] = {
    "section": _section,
    "divider": _divider,
    "header": _header,
    "context": _context,
    "actions": _actions,
    "image": _image,
    "rich_text": _rich_text,
    "markdown": _markdown,
    "input": _loose("label", "element", "dispatch_action", "hint", "optional"),
    "file": _loose("external_id", "source", "file_id"),
    "video": _loose(
        "alt_text",
        "author_name",
        "description",
        "provider_icon_url",
        "provider_name",
        "title",
        "title_url",
        "thumbnail_url",
        "video_url",
    ),
    "table": _loose("rows", "column_settings"),
}


def _block(check: _Check, ptr: str, block: Any) -> None:
    if not _is_obj(check, ptr, block):
        return
    kind = block.get("type")
    fn = BLOCKS.get(kind) if isinstance(kind, str) else None
    if fn is None:
        check.fail(f"{ptr}/type", f"unsupported type: {kind}")
        return
    _unique_id(check, ptr, block, "block_id", check.block_ids)
    fn(check, ptr, block)


# --- what Slack stores --------------------------------------------------------------------------------------


def _short_id(rng: random.Random, n: int) -> str:
    return "".join(rng.choice(string.ascii_letters + string.digits) for _ in range(n))


def normalize_blocks(blocks: list[dict[str, Any]], rng: random.Random) -> list[dict[str, Any]]:
    """The blocks as Slack stores and returns them: every block gets a `block_id`, every interactive element
    an `action_id`, and plain_text objects `emoji: true` unless given. Input must be valid."""
    out = json.loads(json.dumps(blocks))
    for block in out:
        block.setdefault("block_id", _short_id(rng, 5))
        for el in _interactive_elements(block):
            el.setdefault("action_id", _short_id(rng, 5))
    _default_emoji(out)
    return out


def _interactive_elements(block: dict[str, Any]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    if block.get("type") == "actions":
        found.extend(el for el in block.get("elements", []) if el.get("type") in INTERACTIVE)
    accessory = block.get("accessory")
    if isinstance(accessory, dict) and accessory.get("type") in INTERACTIVE:
        found.append(accessory)
    return found


def _default_emoji(node: Any) -> None:
    if isinstance(node, dict):
        if node.get("type") == "plain_text" and isinstance(node.get("text"), str):
            node.setdefault("emoji", True)
        for value in node.values():
            _default_emoji(value)
    elif isinstance(node, list):
        for value in node:
            _default_emoji(value)


def find_element(
    blocks: list[dict[str, Any]], action_id: str
) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """(block, element) of the interactive element with this action_id in stored blocks, or None."""
    for block in blocks:
        for el in _interactive_elements(block):
            if el.get("action_id") == action_id:
                return block, el
    return None


def message_text(message: dict[str, Any]) -> str:
    """Everything a person reads in a message: its fallback text and every text in its blocks (what tests and
    the demo's tour look for)."""
    out = [str(message.get("text") or "")]

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if isinstance(node.get("text"), str):
                out.append(node["text"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(message.get("blocks") or [])
    return "\n".join(out)

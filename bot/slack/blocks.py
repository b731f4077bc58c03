"""Block Kit builders that cannot produce a message Slack refuses, and the check that proves it.

Slack answers `invalid_blocks` or `msg_blocks_too_long` to one character too many, so every builder
truncates (with "…", at a line or word boundary, never inside an escape like `&amp;` or a token like
`<@U123>`) instead of failing: a deploy report that is cut short is useful, one that is never posted is not.

Text from the cluster (names, reasons, log lines) is untrusted: `escape()` makes it inert mrkdwn, so a log
line saying `<!channel>` shows those characters and pings nobody. Builders take mrkdwn that the caller has
already composed from escaped pieces; `validate_message()` rejects any `<…>` token other than a user mention
or a date, so a forgotten escape shows up in tests instead of in a channel.

Lengths are counted in UTF-16 code units (what Slack's limits are measured in for JavaScript clients, and
never fewer than Python's code points), so an emoji-heavy text cannot slip over a limit.

Pure: plain dicts in and out, no slack_sdk, no I/O.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any, Literal

Block = dict[str, Any]

# Limits that real Slack enforces (slack_sdk.models.blocks and docs.slack.dev).
MAX_BLOCKS = 50
SECTION_TEXT = 3000
FIELD_TEXT = 2000
MAX_FIELDS = 10
HEADER_TEXT = 150
TEXT_OBJECT = 3000
CONTEXT_ELEMENTS = 10
ACTIONS_ELEMENTS = 25
BUTTON_TEXT = 75
BUTTON_VALUE = 2000
ACTION_ID = 255
BLOCK_ID = 255
CONFIRM_TITLE = 100
CONFIRM_TEXT = 300
CONFIRM_BUTTON = 30
FALLBACK_TEXT = 3900  # Slack recommends a top-level text under 4,000 characters
MESSAGE_SIZE = 40_000  # the whole message (blocks and text as JSON)

ELLIPSIS = "…"
FENCE = "```"
_BROKEN_FENCE = "`\u200b`\u200b`"  # zero-width spaces: looks like ``` but is no fence
_GRAVE_LOOKALIKE = "\u02cb"  # modifier letter grave accent: looks like ` but ends no code span
BUTTON_STYLES = ("primary", "danger")

_ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[@-_]")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_SURROGATE = re.compile(r"[\ud800-\udfff]")
_USER_ID = re.compile(r"[UW][A-Z0-9]{2,30}")
_ALLOWED_TOKEN = re.compile(r"<@[UW][A-Z0-9]{2,30}>|<!date\^\d{1,12}\^[^<>|]{1,80}\|[^<>|]{1,80}>")
_ENTITY = re.compile(r"&(?:amp|lt|gt);")
_QUOTE = re.compile(r"^> ", re.MULTILINE)  # a block quote marker is a raw ">" at a line's start


# --- text ------------------------------------------------------------------------------------------------


def slack_len(text: str) -> int:
    """Length in UTF-16 code units (an emoji outside the BMP counts 2)."""
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def clean(text: object) -> str:
    """Printable text: terminal colour codes and control characters (but newlines and tabs) removed,
    lone surrogates replaced. Log lines are full of ANSI colours; JSON cannot carry a lone surrogate."""
    value = _ANSI.sub("", str(text))
    value = _CONTROL.sub("", value.replace("\r\n", "\n").replace("\r", "\n"))
    return _SURROGATE.sub("\ufffd", value)


def escape(text: object) -> str:
    """Untrusted text as inert mrkdwn: `&`, `<` and `>` escaped (no mention, link or channel ping), and a
    ``` broken up so it can neither open nor close a code block."""
    value = clean(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    while FENCE in value:   # "`````" broken once still ends in "```": break until none is left
        value = value.replace(FENCE, _BROKEN_FENCE)
    return value


def one_line(text: object) -> str:
    return " ".join(clean(text).split())


def inline_code(text: object, limit: int = 200) -> str:
    """`text` as inline code: escaped, on one line, backticks swapped for a look-alike so it cannot end
    the code span."""
    body = truncate_mrkdwn(escape(one_line(text)).replace("`", _GRAVE_LOOKALIKE), max(1, limit - 2)) or " "
    return f"`{body}`"


def mention(user: str) -> str:
    """A Slack user ID as a mention; anything else (an actor text such as "Flux helm-controller") as text."""
    return f"<@{user}>" if _USER_ID.fullmatch(user or "") else escape(user)


def date_token(at: datetime, fallback: str) -> str:
    """A time each reader sees in their own time zone (`<!date^…>`); `fallback` where it cannot be shown."""
    epoch = int(at.timestamp())
    alt = one_line(fallback).replace("|", "/").replace("<", "").replace(">", "")[:80] or "time"
    return f"<!date^{epoch}^{{date_short_pretty}} {{time}}|{alt}>"


def _fit(text: str, budget: int) -> int:
    """The longest prefix (in code points) of `text` whose Slack length is at most `budget`."""
    used = 0
    for index, char in enumerate(text):
        used += 2 if ord(char) > 0xFFFF else 1
        if used > budget:
            return index
    return len(text)


def truncate_plain(text: str, limit: int) -> str:
    """At most `limit` (Slack length), cut at a word boundary with "…"."""
    if slack_len(text) <= limit:
        return text
    if limit <= 1:
        return ELLIPSIS[:limit]
    cut = _fit(text, limit - 1)
    space = text.rfind(" ", 0, cut + 1)
    if space > cut * 3 // 4:
        cut = space
    return text[:cut].rstrip() + ELLIPSIS


def truncate_mrkdwn(text: str, limit: int) -> str:
    """At most `limit` (Slack length) of composed mrkdwn, cut with "…" at a line (else a word) boundary,
    never inside an entity (`&amp;`) or a `<…>` token, and with an open ``` code block closed again."""
    if slack_len(text) <= limit:
        return text
    if limit <= 1:
        return ELLIPSIS[:limit]
    fenced = FENCE in text
    reserve = 1 + (len("\n" + ELLIPSIS + "\n" + FENCE) if fenced else 0)
    budget = limit - reserve
    while True:
        cut = _fit(text, max(0, budget))
        cut = _outside_tokens(text, cut)
        newline = text.rfind("\n", 0, cut + 1)
        space = text.rfind(" ", 0, cut + 1)
        if newline > cut // 2:
            cut = newline
        elif space > cut * 3 // 4:
            cut = space
        head = text[:cut].rstrip(" ")
        if head.count(FENCE) % 2:
            out = head.rstrip("\n") + "\n" + ELLIPSIS + "\n" + FENCE
        else:
            out = head.rstrip() + ELLIPSIS
        if slack_len(out) <= limit or budget <= 0:
            return out if slack_len(out) <= limit else ELLIPSIS
        budget -= max(1, slack_len(out) - limit)


def _outside_tokens(text: str, cut: int) -> int:
    """Move a cut back so it does not split `<…>`, an entity, or a ``` fence."""
    opened, closed = text.rfind("<", 0, cut), text.rfind(">", 0, cut)
    if opened > closed:
        cut = opened
    amp = text.rfind("&", max(0, cut - 4), cut)
    if amp != -1 and ";" not in text[amp:cut] and _ENTITY.match(text, amp):
        cut = amp
    for back in (1, 2):  # inside "```": cut before it
        if cut - back >= 0 and text.startswith(FENCE, cut - back):
            return cut - back
    return cut


def lines_within(
    lines: Sequence[str], limit: int, *, more: str = "… and {n} more", line_limit: int | None = None
) -> str:
    """Whole lines (each already mrkdwn) joined while they fit in `limit`, then one "… and N more" line.
    A single line longer than `line_limit` (default: the whole budget) is cut itself."""
    cap = line_limit or limit
    kept: list[str] = []
    used = -1  # no newline before the first line
    for index, line in enumerate(lines):
        line = truncate_mrkdwn(line, cap)
        rest = len(lines) - index - 1
        note = 1 + slack_len(more.format(n=rest)) if rest else 0
        if used + 1 + slack_len(line) + note > limit:
            break
        kept.append(line)
        used += 1 + slack_len(line)
    if len(kept) < len(lines):
        kept.append(more.format(n=len(lines) - len(kept)))
    return truncate_mrkdwn("\n".join(kept), limit)


def code_block(
    lines: Sequence[str],
    limit: int = SECTION_TEXT,
    *,
    keep: Literal["head", "tail"] = "tail",
    line_limit: int = 500,
    omitted: str = "… {n} earlier lines",
) -> str:
    """Untrusted lines as a ``` code block of at most `limit`: escaped, each cut to `line_limit`, and, when
    they do not all fit, the last ones kept (`keep="tail"`: a log's error is at its end) or the first."""
    safe = [_code_line(line, min(line_limit, limit // 2)) for line in lines] or [" "]
    budget = limit - slack_len(f"{FENCE}\n\n{FENCE}")
    order = list(reversed(safe)) if keep == "tail" else safe
    kept: list[str] = []
    used = -1
    for index, line in enumerate(order):
        rest = len(order) - index - 1
        note = 1 + slack_len(omitted.format(n=rest)) if rest else 0
        if used + 1 + slack_len(line) + note > budget:
            break
        kept.append(line)
        used += 1 + slack_len(line)
    if len(kept) < len(order):
        kept.append(truncate_plain(omitted.format(n=len(order) - len(kept)), max(1, budget)))
    body = "\n".join(reversed(kept) if keep == "tail" else kept)
    return f"{FENCE}\n{body}\n{FENCE}"


def fits_code_block(lines: Sequence[str], limit: int = SECTION_TEXT, *, line_limit: int = 500) -> bool:
    """Whether `code_block` would show every line whole (nothing dropped, no line cut)."""
    safe = [_code_line(line, 10 * limit) for line in lines]
    if any(slack_len(line) > min(line_limit, limit // 2) for line in safe):
        return False
    return sum(slack_len(line) + 1 for line in safe) - 1 <= limit - slack_len(f"{FENCE}\n\n{FENCE}")


def _code_line(line: object, limit: int) -> str:
    text = clean(line).replace("\n", " ").replace("\t", "    ")
    text = escape(text)
    return truncate_mrkdwn(text, limit) if text.strip() else " "


# --- blocks ----------------------------------------------------------------------------------------------


def plain_text(text: object, limit: int) -> dict[str, Any]:
    value = truncate_plain(one_line(text), limit) or "-"
    return {"type": "plain_text", "text": value, "emoji": True}


def mrkdwn(text: str, limit: int) -> dict[str, Any]:
    value = truncate_mrkdwn(text, limit) if text.strip() else "-"
    return {"type": "mrkdwn", "text": value}


def header(text: object, *, block_id: str | None = None) -> Block:
    return _with_id({"type": "header", "text": plain_text(text, HEADER_TEXT)}, block_id)


def section(text: str | None = None, *, fields: Sequence[str] = (), block_id: str | None = None) -> Block:
    """mrkdwn `text` (≤3,000) and/or up to 10 mrkdwn `fields` (≤2,000 each); extra fields are dropped."""
    block: Block = {"type": "section"}
    if text is not None and text.strip():
        block["text"] = mrkdwn(text, SECTION_TEXT)
    kept = [f for f in fields if f.strip()][:MAX_FIELDS]
    if kept:
        block["fields"] = [mrkdwn(f, FIELD_TEXT) for f in kept]
    if "text" not in block and "fields" not in block:
        block["text"] = mrkdwn("-", SECTION_TEXT)
    return _with_id(block, block_id)


def context(*elements: str, block_id: str | None = None) -> Block:
    kept = [e for e in elements if e.strip()][:CONTEXT_ELEMENTS] or ["-"]
    return _with_id({"type": "context", "elements": [mrkdwn(e, TEXT_OBJECT) for e in kept]}, block_id)


def divider() -> Block:
    return {"type": "divider"}


def confirm_dialog(
    title: object, text: object, *, confirm: object = "Yes", deny: object = "Cancel",
    style: str | None = None,
) -> dict[str, Any]:
    """A confirmation before a destructive click. Plain text throughout: it cannot mention anyone."""
    dialog: dict[str, Any] = {
        "title": plain_text(title, CONFIRM_TITLE),
        "text": plain_text(text, CONFIRM_TEXT),
        "confirm": plain_text(confirm, CONFIRM_BUTTON),
        "deny": plain_text(deny, CONFIRM_BUTTON),
    }
    if style in BUTTON_STYLES:
        dialog["style"] = style
    return dialog


def button(
    text: object, action_id: str, value: str | None = None, *, style: str | None = None,
    confirm: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    element: dict[str, Any] = {
        "type": "button",
        "text": plain_text(text, BUTTON_TEXT),
        "action_id": action_id[:ACTION_ID] or "action",
    }
    if value is not None:
        element["value"] = value[:BUTTON_VALUE]
    if style in BUTTON_STYLES:
        element["style"] = style
    if confirm is not None:
        element["confirm"] = dict(confirm)
    return element


def actions(buttons: Iterable[Mapping[str, Any]], *, block_id: str | None = None) -> Block | None:
    """Up to 25 buttons, each action_id once; None when there is nothing to click."""
    seen: set[str] = set()
    kept = []
    for element in buttons:
        if element["action_id"] in seen:
            continue
        seen.add(element["action_id"])
        kept.append(dict(element))
    if not kept:
        return None
    return _with_id({"type": "actions", "elements": kept[:ACTIONS_ELEMENTS]}, block_id)


def _with_id(block: Block, block_id: str | None) -> Block:
    if block_id:
        block["block_id"] = block_id[:BLOCK_ID]
    return block


# --- whole messages --------------------------------------------------------------------------------------


def message_size(blocks: Sequence[Mapping[str, Any]], text: str) -> int:
    return slack_len(json.dumps({"text": text, "blocks": list(blocks)}, ensure_ascii=False))


def fit_message(blocks: Sequence[Block | None], text: str) -> tuple[list[Block], str]:
    """The message within every whole-message limit: 50 blocks (the first ones and the last kept, the
    middle summarised), unique action and block IDs, the fallback text short, 40,000 in all (the longest
    texts halved until it fits)."""
    kept = _unique_ids([b for b in blocks if b is not None])
    if len(kept) > MAX_BLOCKS:
        dropped = len(kept) - (MAX_BLOCKS - 1)
        note = context(f"… {dropped} more blocks not shown")
        kept = [*kept[: MAX_BLOCKS - 2], note, kept[-1]]
    fallback = truncate_mrkdwn(text, FALLBACK_TEXT) if text.strip() else "helmbot"
    while message_size(kept, fallback) > MAX_SIZE_GUARD:
        if not _halve_longest(kept):
            kept = kept[:1]
            break
    return kept, fallback


MAX_SIZE_GUARD = MESSAGE_SIZE - 100  # a margin for what the delivery adds (channel, thread_ts, metadata)


def _unique_ids(blocks: list[Block]) -> list[Block]:
    action_ids: set[str] = set()
    block_ids: set[str] = set()
    out: list[Block] = []
    for block in blocks:
        block = dict(block)
        if block.get("block_id") in block_ids:
            del block["block_id"]
        elif "block_id" in block:
            block_ids.add(block["block_id"])
        if block["type"] == "actions":
            elements = [e for e in block["elements"] if e.get("action_id") not in action_ids]
            action_ids.update(e.get("action_id") for e in elements)
            if not elements:
                continue
            block["elements"] = elements
        out.append(block)
    return out


def _halve_longest(blocks: list[Block]) -> bool:
    texts: list[tuple[int, dict[str, Any]]] = []
    for block in blocks:
        candidates = [block.get("text"), *(block.get("fields") or ()), *(block.get("elements") or ())]
        for obj in candidates:
            if isinstance(obj, dict) and obj.get("type") == "mrkdwn":
                texts.append((slack_len(obj["text"]), obj))
    if not texts:
        return False
    size, longest = max(texts, key=lambda item: item[0])
    if size <= 16:
        return False
    longest["text"] = truncate_mrkdwn(longest["text"], size // 2)
    return True


# --- validation ------------------------------------------------------------------------------------------

_KEYS = {
    "header": {"type", "text", "block_id"},
    "section": {"type", "text", "fields", "block_id"},
    "context": {"type", "elements", "block_id"},
    "divider": {"type", "block_id"},
    "actions": {"type", "elements", "block_id"},
}


def validate_message(blocks: Sequence[Mapping[str, Any]], text: str) -> list[str]:
    """Every way this message would be refused by Slack, or would ping or link where it must not; [] if
    none. Checks the limits above and that mrkdwn holds no `<…>` token but a user mention or a date."""
    problems: list[str] = []
    if not isinstance(text, str) or not text.strip():
        problems.append("text: the fallback text is empty")
    else:
        if slack_len(text) > FALLBACK_TEXT:
            problems.append(f"text: {slack_len(text)} characters (keep under 4,000)")
        problems.extend(f"text: {p}" for p in mrkdwn_problems(text))
    if len(blocks) > MAX_BLOCKS:
        problems.append(f"{len(blocks)} blocks (at most {MAX_BLOCKS})")
    action_ids: set[str] = set()
    block_ids: set[str] = set()
    for index, block in enumerate(blocks):
        where = f"blocks[{index}]"
        kind = block.get("type")
        if kind not in _KEYS:
            problems.append(f"{where}: unknown block type {kind!r}")
            continue
        extra = set(block) - _KEYS[kind]
        if extra:
            problems.append(f"{where}: unexpected keys {sorted(extra)}")
        block_id = block.get("block_id")
        if block_id is not None:
            if not isinstance(block_id, str) or not 0 < len(block_id) <= BLOCK_ID:
                problems.append(f"{where}.block_id: empty or longer than {BLOCK_ID}")
            elif block_id in block_ids:
                problems.append(f"{where}.block_id: {block_id!r} used twice")
            block_ids.add(str(block_id))
        problems.extend(_block_problems(where, kind, block, action_ids))
    try:
        size = message_size(blocks, text if isinstance(text, str) else "")
    except (TypeError, ValueError) as exc:
        problems.append(f"not JSON: {exc}")
    else:
        if size > MESSAGE_SIZE:
            problems.append(f"message is {size} characters (at most {MESSAGE_SIZE})")
    return problems


def _block_problems(where: str, kind: str, block: Mapping[str, Any], action_ids: set[str]) -> list[str]:
    out: list[str] = []
    if kind == "header":
        out += _text_problems(f"{where}.text", block.get("text"), HEADER_TEXT, plain_only=True)
    elif kind == "section":
        if "text" not in block and "fields" not in block:
            out.append(f"{where}: a section needs text or fields")
        if "text" in block:
            out += _text_problems(f"{where}.text", block["text"], SECTION_TEXT)
        fields = block.get("fields")
        if fields is not None:
            if not isinstance(fields, list) or not 0 < len(fields) <= MAX_FIELDS:
                out.append(f"{where}.fields: 1 to {MAX_FIELDS} fields")
            else:
                for i, field in enumerate(fields):
                    out += _text_problems(f"{where}.fields[{i}]", field, FIELD_TEXT)
    elif kind == "context":
        elements = block.get("elements")
        if not isinstance(elements, list) or not 0 < len(elements) <= CONTEXT_ELEMENTS:
            out.append(f"{where}.elements: 1 to {CONTEXT_ELEMENTS} elements")
        else:
            for i, element in enumerate(elements):
                out += _text_problems(f"{where}.elements[{i}]", element, TEXT_OBJECT)
    elif kind == "actions":
        elements = block.get("elements")
        if not isinstance(elements, list) or not 0 < len(elements) <= ACTIONS_ELEMENTS:
            out.append(f"{where}.elements: 1 to {ACTIONS_ELEMENTS} elements")
        else:
            for i, element in enumerate(elements):
                out += _button_problems(f"{where}.elements[{i}]", element, action_ids)
    return out


def _button_problems(where: str, element: Mapping[str, Any], action_ids: set[str]) -> list[str]:
    if element.get("type") != "button":
        return [f"{where}: only buttons are used, got {element.get('type')!r}"]
    out = _text_problems(f"{where}.text", element.get("text"), BUTTON_TEXT, plain_only=True)
    action_id = element.get("action_id")
    if not isinstance(action_id, str) or not 0 < len(action_id) <= ACTION_ID:
        out.append(f"{where}.action_id: empty or longer than {ACTION_ID}")
    elif action_id in action_ids:
        out.append(f"{where}.action_id: {action_id!r} used twice in the message")
    else:
        action_ids.add(action_id)
    value = element.get("value")
    if value is not None and (not isinstance(value, str) or len(value) > BUTTON_VALUE):
        out.append(f"{where}.value: longer than {BUTTON_VALUE}")
    if "style" in element and element["style"] not in BUTTON_STYLES:
        out.append(f"{where}.style: {element['style']!r} (primary or danger)")
    confirm = element.get("confirm")
    if confirm is not None:
        for key, limit in _CONFIRM_LIMITS.items():
            out += _text_problems(f"{where}.confirm.{key}", confirm.get(key), limit, plain_only=key != "text")
        if "style" in confirm and confirm["style"] not in BUTTON_STYLES:
            out.append(f"{where}.confirm.style: {confirm['style']!r}")
    return out


_CONFIRM_LIMITS = {
    "title": CONFIRM_TITLE, "text": CONFIRM_TEXT, "confirm": CONFIRM_BUTTON, "deny": CONFIRM_BUTTON,
}


def _text_problems(where: str, obj: Any, limit: int, *, plain_only: bool = False) -> list[str]:
    if not isinstance(obj, Mapping) or obj.get("type") not in ("plain_text", "mrkdwn"):
        return [f"{where}: not a text object"]
    if plain_only and obj["type"] != "plain_text":
        return [f"{where}: must be plain_text"]
    text = obj.get("text")
    if not isinstance(text, str) or not text.strip():
        return [f"{where}: empty text"]
    out = []
    if slack_len(text) > limit:
        out.append(f"{where}: {slack_len(text)} characters (at most {limit})")
    if obj["type"] == "mrkdwn":
        out.extend(f"{where}: {p}" for p in mrkdwn_problems(text))
    return out


def mrkdwn_problems(text: str) -> list[str]:
    """What in composed mrkdwn would ping, link or render broken: `<…>` tokens other than a user mention or
    a date (a `<!channel>` from a log line, a link), `>` but as a quote marker, `&` outside an entity, an
    unclosed ``` block."""
    out = []
    rest = _QUOTE.sub("", _ALLOWED_TOKEN.sub("", text))
    if "<" in rest or ">" in rest:
        start = max(rest.find("<"), 0)
        out.append(f"unescaped '<' or '>' near {rest[start:start + 30]!r}")
    if "&" in _ENTITY.sub("", rest):
        out.append("'&' outside &amp; &lt; &gt;")
    if text.count(FENCE) % 2:
        out.append("unclosed ``` code block")
    return out

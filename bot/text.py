"""Text helpers every layer shares (core, adapters, CLI, Slack, errors): one line, a bounded length, plurals.

Two ways to make text one line, for two purposes: `one_line` folds all white space (an event's message,
a verdict's reason), `join_lines` keeps each line's own spacing and joins the lines with " / " (an error or
an API message shown to a person, where the line breaks carried meaning).
"""

from __future__ import annotations

ELLIPSIS = "…"


def one_line(text: object) -> str:
    """All white space folded to single spaces (Helm descriptions and API messages may span lines)."""
    return " ".join(str(text).split())


def join_lines(text: object) -> str:
    """The non-blank lines, stripped, joined with " / "."""
    return " / ".join(part.strip() for part in str(text).splitlines() if part.strip())


def clip(text: str, limit: int, *, breaks: tuple[str, ...] = (), keep: int = 0) -> str:
    """At most `limit` characters, ending in "…" when cut. With `breaks`, the cut falls on the last of the
    first separator found after `keep` characters (never mid-word), else at the limit."""
    if len(text) <= limit:
        return text
    head = text[: limit - 1]
    for separator in breaks:
        cut = head.rfind(separator)
        if cut > keep:
            head = head[:cut]
            break
    return head.rstrip(" ;,") + ELLIPSIS


def plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"

"""The shapes of names in the configuration: Slack IDs, Kubernetes/Helm names, environments, value keys.

Each check returns None when the text is fine, else the message for a person (what is wrong and what to
write instead).
"""

from __future__ import annotations

import re
from fnmatch import fnmatchcase

from bot.config.reading import quote

__all__ = [
    "check_channel_id", "check_dns_label", "check_environment", "check_label_key", "check_label_value",
    "check_release_name", "check_team_id", "check_user_or_group_id", "check_value_glob", "value_key_matches",
]

_DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
# Helm's own release name rule (pkg/chartutil, validName) and its 53-character limit.
_RELEASE = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
RELEASE_NAME_MAX = 53
_SLACK_ID = re.compile(r"[A-Z][A-Z0-9]{2,20}")
_VERSION_LIKE = re.compile(r"v?\d", re.IGNORECASE)
_VALUE_SEGMENT = re.compile(r"[A-Za-z0-9_*?-]+")
_KEY_INDEX = re.compile(r"\[(\d+|\*)\]")
_LABEL_NAME = re.compile(r"[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?")
_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")

_ID_KINDS = {"U": "a user ID", "W": "a user ID", "S": "a user group ID", "C": "a channel ID",
             "G": "a channel ID", "D": "a direct-message channel ID", "T": "a workspace (team) ID"}


def _dns(text: str, what: str, limit: int, pattern: re.Pattern[str]) -> str | None:
    if len(text) > limit:
        return f"{what} {quote(text)} is longer than {limit} characters"
    if not pattern.fullmatch(text):
        lower = " (names are lower-case)" if pattern.fullmatch(text.lower()) else ""
        return (f"{what} {quote(text)} is not a valid name: use lower-case letters, digits and '-', "
                f"starting and ending with a letter or digit{lower}")
    return None


def check_dns_label(text: str, what: str = "name") -> str | None:
    """A namespace, cluster or Lease name: an RFC 1123 label (63 characters at most)."""
    return _dns(text, what, 63, _DNS_LABEL)


def check_release_name(text: str) -> str | None:
    """Helm's rule: lower-case DNS-1123 subdomain, at most 53 characters."""
    return _dns(text, "release name", RELEASE_NAME_MAX, _RELEASE)


def check_environment(text: str) -> str | None:
    """Environments follow the release name in commands (`/deploy shop prod 1.2.0`), so one that looks like
    a version ("1.2", "v2", "1.2.0-rc1") could not be told apart from the version."""
    if _VERSION_LIKE.match(text):
        return (f"environment {quote(text)} looks like a version: in `/deploy NAME ENVIRONMENT VERSION` it "
                "could not be told from the version; use a name that starts with a letter, e.g. prod")
    return _dns(text, "environment", 63, _DNS_LABEL)


def _slack_id(text: str, prefixes: str, what: str, example: str, how: str) -> str | None:
    if _SLACK_ID.fullmatch(text) and text[0] in prefixes:
        return None
    id_like = _SLACK_ID.fullmatch(text.upper()) and text[0].upper() in _ID_KINDS and any(
        c.isdigit() for c in text)
    if text.startswith(("#", "@")) or not id_like:
        if " " not in text and not _SLACK_ID.fullmatch(text):
            return f"{quote(text)} is a name; use {what} ({example}), which never changes: {how}"
        return f"{quote(text)} is not {what} ({example})"
    if text != text.upper():
        return f"{quote(text)}: Slack IDs are upper-case, e.g. {example}"
    return f"{quote(text)} is {_ID_KINDS[text[0]]}; expected {what} ({example})"


_MEMBER_HOW = "in Slack, open the profile, ⋮ → Copy member ID"


def check_user_or_group_id(text: str, *, allow_everyone: bool) -> str | None:
    """Deployers and approvers: users U…/W…, user groups S…, and "*" (everyone) where allowed."""
    if text == "*":
        return None if allow_everyone else '"*" (everyone) is allowed in deployers only; name the approvers'
    example = 'U0123ABC, or a user group S0123ABC' + (', or "*" for everyone' if allow_everyone else "")
    return _slack_id(text, "UWS", "a user or user group ID", example, _MEMBER_HOW)


def check_channel_id(text: str) -> str | None:
    return _slack_id(text, "CGD", "a channel ID", "C0123ABC",
                     "in Slack, open the channel's details; the ID is at the bottom")


def check_team_id(text: str) -> str | None:
    return _slack_id(text, "T", "a workspace ID", "T0123ABC",
                     "it is in the workspace's URL app.slack.com/client/T…")


def _key_segments(key: str) -> list[str] | None:
    """"a.b[0].c" -> ["a", "b", "[0]", "c"]; None when not a value key."""
    segments: list[str] = []
    for part in key.split("."):
        name, _, rest = part.partition("[")
        rest = "[" + rest if rest else ""
        if not _VALUE_SEGMENT.fullmatch(name):
            return None
        segments.append(name)
        while rest:
            m = _KEY_INDEX.match(rest)
            if not m:
                return None
            segments.append(m.group(0))
            rest = rest[m.end():]
    return segments


def check_value_glob(text: str) -> str | None:
    """An allowed_values entry: a dotted value key with * and ? wildcards within a segment."""
    if _key_segments(text) is None:
        return (f"{quote(text)} is not a valid value key: use dotted names of letters, digits, '_' and '-', "
                "with * or ? as wildcards (e.g. image.tag, *.image.tag)")
    if "**" in text:
        return f"{quote(text)}: ** is not supported; * matches one key, and a key allows everything under it"
    return None


def value_key_matches(pattern: str, key: str) -> bool:
    """A pattern allows the keys it matches and everything under them ("image" allows "image.tag")."""
    wanted, given = _key_segments(pattern), _key_segments(key)
    if wanted is None or given is None or "*" in key or "?" in key or len(given) < len(wanted):
        return False
    return all(fnmatchcase(g, w) for w, g in zip(wanted, given, strict=False))


def check_label_key(text: str) -> str | None:
    prefix, _, name = text.rpartition("/")
    if (prefix and (len(prefix) > 253 or not _SUBDOMAIN.fullmatch(prefix))) or len(name) > 63 \
            or not _LABEL_NAME.fullmatch(name):
        return f"{quote(text)} is not a valid label key (e.g. team, app.kubernetes.io/name)"
    return None


def check_label_value(text: str) -> str | None:
    if text and (len(text) > 63 or not _LABEL_NAME.fullmatch(text)):
        return f"{quote(text)} is not a valid label value (63 characters: letters, digits, '-', '_', '.')"
    return None

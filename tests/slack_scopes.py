"""Which Slack bot scopes helmbot's Web API calls need, from Slack's method reference.

`SCOPES` maps each Web API method to the bot scopes it needs (docs.slack.dev/reference/methods/<method>,
"Scopes: Bot token"); a method with two scopes for public and private channels needs both, since a release's
channel may be either. `called_methods()` finds the methods the bot's code calls (a static scan of bot/ for
slack_sdk WebClient methods); the e2e tests add what the bot actually called (`SlackStandIn.calls`).
"""

from __future__ import annotations

import ast
import functools
from collections.abc import Iterable
from pathlib import Path

from slack_sdk import WebClient

REPO = Path(__file__).resolve().parents[1]

SCOPES: dict[str, frozenset[str]] = {
    "auth.test": frozenset(),                                       # no scope
    # chat:write.public: post to public channels without joining them first
    "chat.postMessage": frozenset({"chat:write", "chat:write.public"}),
    "chat.update": frozenset({"chat:write"}),
    "chat.getPermalink": frozenset(),                               # no scope
    "conversations.history": frozenset({"channels:history", "groups:history"}),
    "conversations.replies": frozenset({"channels:history", "groups:history"}),
    "conversations.join": frozenset({"channels:join"}),             # public channels only
    "conversations.info": frozenset({"channels:read", "groups:read"}),
    "files.getUploadURLExternal": frozenset({"files:write"}),
    "files.completeUploadExternal": frozenset({"files:write"}),
    "usergroups.users.list": frozenset({"usergroups:read"}),
    "users.info": frozenset({"users:read"}),
    # Socket Mode: called with the app-level token (connections:write), never with the bot token
    "apps.connections.open": frozenset(),
}
# Scopes that come with an app feature rather than a Web API method.
FEATURE_SCOPES: dict[str, frozenset[str]] = {"slash_commands": frozenset({"commands"})}
# slack_sdk helpers that call several methods.
COMPOSITE = {"files_upload_v2": ("files.getUploadURLExternal", "files.completeUploadExternal")}
NOT_THE_BOT = ("bot/sim", "bot/demo")    # stand-ins and the demo's local workspace


@functools.cache
def _client_methods() -> frozenset[str]:
    return frozenset(n for n in dir(WebClient) if not n.startswith("_") and "_" in n)


def api_methods(python_name: str) -> tuple[str, ...]:
    """`chat_postMessage` -> ("chat.postMessage",); `files_upload_v2` -> its two methods."""
    return COMPOSITE.get(python_name, (python_name.replace("_", "."),))


def called_methods(root: Path = REPO / "bot") -> dict[str, list[str]]:
    """Web API method -> the places in the bot's code that call it (`x.chat_postMessage(...)`,
    `x.api_call("chat.postMessage", ...)`)."""
    found: dict[str, list[str]] = {}
    for path in sorted(root.rglob("*.py")):
        rel = path.relative_to(REPO).as_posix()
        if rel.startswith(NOT_THE_BOT):
            continue
        for node in ast.walk(ast.parse(path.read_text(), rel)):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
                continue
            name = node.func.attr
            methods: tuple[str, ...] = ()
            if name in _client_methods() and name not in ("api_call", "with_retry"):
                methods = api_methods(name)
            elif name == "api_call" and node.args and isinstance(node.args[0], ast.Constant):
                methods = (str(node.args[0].value),)
            for method in methods:
                found.setdefault(method, []).append(f"{rel}:{node.lineno}")
    return found


def needed_scopes(methods: Iterable[str], features: Iterable[str] = ("slash_commands",)) -> set[str]:
    unknown = sorted(set(methods) - set(SCOPES))
    assert not unknown, f"add their scopes (Slack's method reference) to tests/slack_scopes.py: {unknown}"
    return set().union(*(SCOPES[m] for m in methods), *(FEATURE_SCOPES[f] for f in features))

"""The Slack app manifests parse and have the structure Slack accepts (the limits of Slack's manifest
schema v1, slackapi/manifest-schema), with the commands, interactivity and exactly the bot scopes helmbot's
Web API calls need (derived from the code: tests/slack_scopes.py; the e2e tests in tests/bot check what the
running bot called against the same manifest).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from tests.chart.support import REPO, TOKENS, render
from tests.slack_scopes import SCOPES, called_methods, needed_scopes

HTTP = REPO / "config" / "slack-app-manifest.yaml"
SOCKET = REPO / "config" / "slack-app-manifest.socket.yaml"
REQUEST_URL = "https://helmbot.example.com/slack/events"

_URL = {"type": "string", "pattern": "^https?://", "maxLength": 3000}
# The parts of Slack's manifest schema (major version 1) these manifests use, with Slack's limits.
MANIFEST_SUBSET: dict[str, Any] = {
    "type": "object", "required": ["display_information"], "additionalProperties": False,
    "properties": {
        "_metadata": {"type": "object", "additionalProperties": False, "properties": {
            "major_version": {"const": 1}, "minor_version": {"type": "integer"}}},
        "display_information": {
            "type": "object", "required": ["name"], "additionalProperties": False, "properties": {
                "name": {"type": "string", "minLength": 1, "maxLength": 35},
                "description": {"type": "string", "minLength": 1, "maxLength": 140},
                "long_description": {"type": "string", "minLength": 175, "maxLength": 4000},
                "background_color": {"type": "string", "pattern": "^#[0-9a-fA-F]{3}([0-9a-fA-F]{3})?$"}}},
        "features": {"type": "object", "additionalProperties": False, "properties": {
            "bot_user": {"type": "object", "required": ["display_name"], "additionalProperties": False,
                         "properties": {"display_name": {"type": "string", "minLength": 1, "maxLength": 80},
                                        "always_online": {"type": "boolean"}}},
            "slash_commands": {"type": "array", "minItems": 1, "maxItems": 50, "items": {
                "type": "object", "required": ["command", "description"], "additionalProperties": False,
                "properties": {
                    "command": {"type": "string", "minLength": 2, "maxLength": 32, "pattern": "^/"},
                    "url": _URL,
                    "description": {"type": "string", "minLength": 1, "maxLength": 2000},
                    "usage_hint": {"type": "string", "minLength": 1, "maxLength": 1000},
                    "should_escape": {"type": "boolean"}}}}}},
        "oauth_config": {"type": "object", "additionalProperties": False, "properties": {
            "scopes": {"type": "object", "additionalProperties": False, "properties": {
                "bot": {"type": "array", "uniqueItems": True,
                        "items": {"type": "string", "maxLength": 50}}}}}},
        "settings": {"type": "object", "additionalProperties": False, "properties": {
            "interactivity": {"type": "object", "required": ["is_enabled"], "additionalProperties": False,
                              "properties": {"is_enabled": {"type": "boolean"}, "request_url": _URL}},
            "org_deploy_enabled": {"type": "boolean"},
            "socket_mode_enabled": {"type": "boolean"},
            "token_rotation_enabled": {"type": "boolean"}}},
    },
}


def load(path: Path) -> dict[str, Any]:
    manifest = yaml.safe_load(path.read_text())
    assert isinstance(manifest, dict)
    return manifest


@pytest.mark.parametrize("path", [HTTP, SOCKET], ids=["http", "socket"])
def test_manifest_structure_is_what_slack_accepts(path: Path) -> None:
    errors = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
              for e in jsonschema.Draft7Validator(MANIFEST_SUBSET).iter_errors(load(path))]
    assert not errors, errors


@pytest.mark.parametrize("path", [HTTP, SOCKET], ids=["http", "socket"])
def test_commands_match_the_bots_default_config_and_have_usage_hints(path: Path) -> None:
    commands = load(path)["features"]["slash_commands"]
    configured = render(sets=TOKENS).config["slack"]["commands"]
    assert [c["command"] for c in commands] == ["/deploy", "/rollback", "/helmbot", "/promote"]
    assert {c["command"] for c in commands} == set(configured.values())
    for c in commands:
        assert c["usage_hint"] and c["description"] and c["should_escape"] is False, c["command"]


@pytest.mark.parametrize("path", [HTTP, SOCKET], ids=["http", "socket"])
def test_bot_scopes_are_what_the_codes_web_api_calls_need_and_no_more(path: Path) -> None:
    manifest = load(path)
    scopes = manifest["oauth_config"]["scopes"]["bot"]
    needed = needed_scopes(called_methods())
    missing, unused = sorted(needed - set(scopes)), sorted(set(scopes) - needed)
    assert not missing and not unused, f"missing: {missing}, unused: {unused}"
    assert len(scopes) == len(set(scopes))
    assert set(manifest["oauth_config"]["scopes"]) == {"bot"}, "no user scopes"
    assert manifest["settings"]["interactivity"]["is_enabled"] is True
    assert manifest["features"]["bot_user"]["display_name"] == "helmbot"


def test_http_manifest_sends_commands_and_clicks_to_the_events_endpoint() -> None:
    manifest = load(HTTP)
    assert manifest["settings"]["socket_mode_enabled"] is False
    assert {c["url"] for c in manifest["features"]["slash_commands"]} == {REQUEST_URL}
    assert manifest["settings"]["interactivity"]["request_url"] == REQUEST_URL
    # the chart's Ingress publishes exactly this path on that host
    ingress = render([REPO / "chart" / "ci" / "http-values.yaml"]).one("Ingress")
    rule = ingress["spec"]["rules"][0]
    assert f"https://{rule['host']}{rule['http']['paths'][0]['path']}" == REQUEST_URL


def test_socket_manifest_has_no_request_urls() -> None:
    manifest = load(SOCKET)
    assert manifest["settings"]["socket_mode_enabled"] is True
    assert not [c for c in manifest["features"]["slash_commands"] if "url" in c]
    assert "request_url" not in manifest["settings"]["interactivity"]


def test_both_manifests_differ_only_in_transport() -> None:
    http, socket = load(HTTP), load(SOCKET)
    for c in http["features"]["slash_commands"]:
        del c["url"]
    del http["settings"]["interactivity"]["request_url"]
    http["settings"]["socket_mode_enabled"] = True
    assert http == socket


def test_the_scan_finds_every_web_api_call_of_the_bot() -> None:
    found = called_methods()
    # each place the bot talks to Slack (delivery, reconcile after a crash, user groups, the token check)
    for method in ("chat.postMessage", "chat.update", "conversations.history", "conversations.replies",
                   "conversations.join", "files.getUploadURLExternal", "files.completeUploadExternal",
                   "usergroups.users.list", "auth.test"):
        assert method in found, method
    assert set(found) <= set(SCOPES)
    places = [where for found_at in found.values() for where in found_at]
    assert all(where.startswith(("bot/slack/", "bot/runtime/")) for where in places), places

"""Slash-command parsing: typed requests from what Slack sends, clear errors that never echo a value."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.app.commands import (
    CommandError,
    DeployCommand,
    HelmbotCommand,
    PromoteCommand,
    RollbackCommand,
    looks_like_version,
    parse_deploy,
    parse_helmbot,
    parse_promote,
    parse_rollback,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("shop", DeployCommand("shop"), id="release-only"),
        pytest.param("shop 1.4.2", DeployCommand("shop", chart_version="1.4.2"), id="version"),
        pytest.param("shop prod", DeployCommand("shop", environment="prod"), id="environment"),
        pytest.param(
            "shop prod 1.2.0", DeployCommand("shop", "prod", "1.2.0"), id="environment-then-version"
        ),
        pytest.param(
            "shop 1.2.0 prod", DeployCommand("shop", "prod", "1.2.0"), id="version-then-environment"
        ),
        pytest.param("shop v2.0.0-rc.1", DeployCommand("shop", chart_version="v2.0.0-rc.1"), id="prerelease"),
        pytest.param(
            "shop 1.1.0 image=registry.example.com/shop:1.2 replicas=3",
            DeployCommand(
                "shop",
                chart_version="1.1.0",
                values=(("image", "registry.example.com/shop:1.2"), ("replicas", "3")),
            ),
            id="values-kept-in-order",
        ),
        pytest.param(
            "shop web.image.tag=2.4 --dry-run",
            DeployCommand("shop", values=(("web.image.tag", "2.4"),), dry_run=True),
            id="dry-run",
        ),
        pytest.param(
            'shop note="two words"', DeployCommand("shop", values=(("note", "two words"),)), id="quoted-value"
        ),
        pytest.param(
            "shop note=\u201ctwo words\u201d",
            DeployCommand("shop", values=(("note", "two words"),)),
            id="typographic-quotes-from-slack-clients",
        ),
        pytest.param(
            "shop url=a&amp;b&lt;c&gt;",
            DeployCommand("shop", values=(("url", "a&b<c>"),)),
            id="slack-html-escapes-undone",
        ),
        pytest.param("  shop   1.0.0  ", DeployCommand("shop", chart_version="1.0.0"), id="extra-spaces"),
        pytest.param("shop key=", DeployCommand("shop", values=(("key", ""),)), id="empty-value"),
        pytest.param("shop a=b=c", DeployCommand("shop", values=(("a", "b=c"),)), id="equals-in-value"),
    ],
)
def test_deploy_parses(text: str, expected: DeployCommand) -> None:
    assert parse_deploy(text) == expected


@pytest.mark.parametrize(
    ("text", "says"),
    [
        pytest.param("", "name the release", id="empty"),
        pytest.param("Shop", "is not a release name", id="uppercase-release"),
        pytest.param("--kubeconfig=/etc/x", "unknown option '--kubeconfig=…'", id="option-injection"),
        pytest.param("shop --set=a", "unknown option", id="unknown-flag"),
        pytest.param("shop prod staging", "unexpected argument 'staging'", id="two-environments"),
        pytest.param("shop 1.0 2.0", "unexpected argument '2.0'", id="two-versions"),
        pytest.param("shop image=x prod", "after the values", id="positional-after-values"),
        pytest.param("shop image=a image=b", "given twice", id="duplicate-key"),
        pytest.param("shop 'image=x", "unbalanced quotes", id="unbalanced-quote"),
        pytest.param("shop bad$key=1", "is not a value key", id="bad-key"),
        pytest.param("shop ../../x", "neither an environment nor a chart version", id="path-like"),
        pytest.param("shop a=\x00b", "control characters", id="nul"),
    ],
)
def test_deploy_refuses(text: str, says: str) -> None:
    with pytest.raises(CommandError) as info:
        parse_deploy(text)
    assert says in info.value.user_message()
    assert "/deploy RELEASE" in info.value.user_message()


def test_errors_never_echo_values() -> None:
    secret = "hunter2-very-secret"
    for text in (
        f"shop password={secret} password={secret}",
        f"shop x={secret * 100}",
        f"shop password={secret} prod",
        f"--token={secret}",
        f"shop {secret}=x=y extra {secret}",
    ):
        with pytest.raises(CommandError) as info:
            parse_deploy(text)
        assert secret not in info.value.user_message()


def test_too_long_and_too_many() -> None:
    with pytest.raises(CommandError, match="too long"):
        parse_deploy("shop " + "a" * 3000)
    with pytest.raises(CommandError, match="too many values"):
        parse_deploy("shop " + " ".join(f"k{i}=v" for i in range(21)))
    with pytest.raises(CommandError, match="too long"):
        parse_deploy("shop k=" + "v" * 1025)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("shop", RollbackCommand("shop"), id="last-good"),
        pytest.param("shop 3", RollbackCommand("shop", revision=3), id="revision"),
        pytest.param("shop prod", RollbackCommand("shop", environment="prod"), id="environment"),
        pytest.param("shop prod 12 --dry-run", RollbackCommand("shop", "prod", 12, True), id="all"),
    ],
)
def test_rollback_parses(text: str, expected: RollbackCommand) -> None:
    assert parse_rollback(text) == expected


@pytest.mark.parametrize("text", ["shop 0", "shop -1", "shop 3 4", "shop 3 prod", "shop a=b", "shop 1.2"])
def test_rollback_refuses(text: str) -> None:
    with pytest.raises(CommandError):
        parse_rollback(text)


def test_promote_and_helmbot() -> None:
    assert parse_promote("shop staging prod") == PromoteCommand("shop", "staging", "prod")
    with pytest.raises(CommandError, match="from one environment to another"):
        parse_promote("shop prod prod")
    with pytest.raises(CommandError, match="not an environment name"):
        parse_promote("shop 1.0 prod")
    assert parse_helmbot("") == HelmbotCommand("help")
    assert parse_helmbot("STATUS shop prod") == HelmbotCommand("status", "shop", "prod")
    assert parse_helmbot("history shop") == HelmbotCommand("history", "shop")
    assert parse_helmbot("releases") == HelmbotCommand("releases")
    with pytest.raises(CommandError, match="unknown subcommand"):
        parse_helmbot("delete shop")
    with pytest.raises(CommandError, match="name the release"):
        parse_helmbot("status")


@pytest.mark.parametrize(
    ("token", "version"),
    [
        ("1", True),
        ("1.2", True),
        ("v1.2.3", True),
        ("1.2.3-rc.1+build.5", True),
        ("prod", False),
        ("v", False),
        ("eu-1", False),
        ("1.2.3.4", False),
    ],
)
def test_version_shapes(token: str, version: bool) -> None:
    assert looks_like_version(token) is version


@settings(max_examples=400, deadline=None)
@given(st.text(max_size=300))
def test_arbitrary_text_never_crashes(text: str) -> None:
    """Anything a user (or an attacker with a valid signature) types is a typed command or a CommandError."""
    for parse in (parse_deploy, parse_rollback, parse_promote, parse_helmbot):
        try:
            parse(text)
        except CommandError as exc:
            message = exc.user_message()
            assert "\n" not in message
            for token in text.split():
                if "=" in token and len(token.split("=", 1)[1]) > 3:
                    assert token.split("=", 1)[1] not in message.replace(token.split("=", 1)[0], "")


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.from_regex(r"[a-z][a-z0-9.]{0,10}=[A-Za-z0-9:/._@+,%-]{0,20}", fullmatch=True),
        max_size=5,
        unique_by=lambda t: t.split("=")[0],
    )
)
def test_values_round_trip(pairs: list[str]) -> None:
    command = parse_deploy(" ".join(["shop", "1.0.0", *pairs]))
    assert [f"{k}={v}" for k, v in command.values] == pairs

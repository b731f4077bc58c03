"""Whatever text a person (or a broken template) hands us, loading ends in a Config or a ConfigError whose
problems all have a message: never another exception.

Derandomized (the same examples every run, as the team's tests must be deterministic) and without an example
database (nothing written into the tree).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.config import Config, ConfigError, parse_config
from bot.config.freezes_section import FREEZE_KEYS
from bot.config.loading import TOP_KEYS
from bot.config.releases_section import RELEASE_KEYS

DETERMINISTIC: dict[str, Any] = {"derandomize": True, "database": None}
KEYS = sorted({*TOP_KEYS, *RELEASE_KEYS, *FREEZE_KEYS, "mode", "port", "url", "routes", "labels", "clusters",
               "kubeconfig", "cron", "commands", "deploy", "<<", "team_id", "bot_token"})
TRICKY = [
    "", "~", "null", "yes", "no", "1.10", "-5", "99999999999999999999999999", "5m", "0s", "1e400",
    "2026-12-20", "2026-12-20T00:00:00Z", "0001-01-01T00:00:00+01:00", "0 18 * * FRI", "*", "U0123ABC",
    "C0123ABC", "S0", "#chan", "xoxb-1-2", "sqlite:///x", "postgresql://a:b@h/d", "[", "]", "{", "'", '"',
    "&a", "*a", "!!binary", "!!python/object:os.system", "|", ">", "- x", ": x", "\t", "é", "9" * 5000,
    "9" * 5000 + "h", "99999999d", "[a, [b]]", "{a: 1}", "@daily", "*/0 * * * *", "0 0 31 2 *",
]
SCALARS = st.one_of(
    st.sampled_from(TRICKY),
    st.text(max_size=20),
    st.integers(), st.floats(allow_nan=True), st.booleans(),
)
VALUES = st.recursive(
    SCALARS.map(lambda v: v if isinstance(v, str) else str(v)),
    lambda children: st.one_of(
        st.lists(children, max_size=4).map(lambda items: "[" + ", ".join(items) + "]"),
        st.dictionaries(st.sampled_from(KEYS), children, max_size=4).map(
            lambda d: "{" + ", ".join(f"{k}: {v}" for k, v in d.items()) + "}"),
    ),
    max_leaves=12,
)
DOCUMENT = st.lists(st.tuples(st.sampled_from(KEYS), VALUES, st.integers(0, 4)), max_size=8).map(
    lambda entries: "".join(f"{' ' * indent}{key}: {value}\n" for key, value, indent in entries))


def _check(text: str) -> None:
    try:
        result = parse_config(text)
    except ConfigError as exc:
        assert exc.problems
        assert all(p.message for p in exc.problems)
        exc.user_message()
    else:
        assert isinstance(result, Config)
        result.redacted_dict()
        result.summary()


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow], **DETERMINISTIC)
@given(DOCUMENT)
def test_yaml_ish_documents_never_raise_anything_else(text: str) -> None:
    _check(text)


@settings(max_examples=300, deadline=None, **DETERMINISTIC)
@given(st.text(max_size=200))
def test_arbitrary_text_never_raises_anything_else(text: str) -> None:
    _check(text)


EXAMPLE = Path(__file__).resolve().parents[2] / "config" / "helmbot.example.yaml"
EXAMPLE_LINES = EXAMPLE.read_text().splitlines()
MUTATION = st.tuples(st.integers(0, len(EXAMPLE_LINES) - 1), st.sampled_from(["value", "drop", "copy"]),
                     st.one_of(st.sampled_from(TRICKY), st.text(max_size=10)))


@settings(max_examples=400, deadline=None, **DETERMINISTIC)
@given(st.lists(MUTATION, min_size=1, max_size=4))
def test_mutated_example_never_raises_anything_else(mutations: list[tuple[int, str, str]]) -> None:
    """The example with values replaced, lines dropped or repeated: reaches every section's checks."""
    lines = list(EXAMPLE_LINES)
    for index, action, value in mutations:
        index %= len(lines)
        if action == "value" and ":" in lines[index]:
            key, _, _ = lines[index].partition(":")
            lines[index] = f"{key}: {value}"
        elif action == "drop":
            del lines[index]
        else:
            lines.insert(index, lines[index])
        if not lines:
            break
    _check("\n".join(lines) + "\n")


def test_deep_nesting_and_alias_bombs() -> None:
    _check("[" * 5000 + "]" * 5000)
    bomb = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [" + ", ".join([f"*{chr(97 + i)}"] * 9) + "]\n" for i in range(8))
    _check(bomb)
    _check("releases: &r [*r]\n")
    _check("slack: &s {commands: *s}\n")
    _check("clusters: {<<: }\n")   # found by hypothesis: no readable cluster left


RELEASE = "releases:\n  - {name: shop, chart: x, channel: C0123ABC, deployers: ['*']}\n"


@pytest.mark.parametrize(
    ("extra", "fragment"),
    [
        ("slack: {port: " + "9" * 5000 + "}\n", "out of range"),
        ("defaults: {helm_timeout: " + "9" * 5000 + "h}\n", "longer than a year"),
        ("defaults: {helm_timeout: 99999999999999999999h}\n", "longer than a year"),
        ("freezes:\n  - {cron: '@daily', duration: 99999999d}\n", "longer than a year"),
        ("freezes:\n  - {from: '0001-01-01T00:00:00+01:00', to: '2027-01-01T00:00:00Z'}\n", "out of range"),
    ],
    ids=["huge-port", "huge-duration-digits", "huge-duration", "huge-freeze", "date-underflow"],
)
def test_huge_values_are_problems_not_overflows(extra: str, fragment: str) -> None:
    with pytest.raises(ConfigError) as err:
        parse_config(RELEASE + extra)
    assert any(fragment in p.message for p in err.value.problems), err.value.user_message()

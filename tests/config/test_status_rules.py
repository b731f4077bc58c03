"""The `status_rules:` shape: the built-in table of well-known custom resources is data users can write
the same way, and a rules file for `helmbot watch --status-rules` is read with the config's checks."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
import yaml

from bot.config import ConfigError, StatusRule, load_status_rules, parse_config, parse_status_rules
from bot.core.model.status_rules import rule_to_dict
from bot.core.status.known_rules import KNOWN_RULES

RELEASE = "releases:\n  - {name: shop, chart: x, channel: C0123ABC, deployers: ['*']}\n"


def _as_config_yaml(rule: StatusRule) -> dict[str, object]:
    entry: dict[str, object] = {k: v for k, v in rule_to_dict(rule).items() if v not in (None, [])}
    seconds = entry.pop("failed_after_seconds", None)
    if seconds is not None:
        entry["failed_after"] = f"{int(float(str(seconds)))}s"
    return entry


def test_the_built_in_table_is_data_of_the_config_shape() -> None:
    text = yaml.safe_dump({"status_rules": [_as_config_yaml(r) for r in KNOWN_RULES]})
    assert parse_status_rules(text) == KNOWN_RULES


def test_config_rules_with_grace_any_kind_and_several_fields_per_kind() -> None:
    config = parse_config(RELEASE + """status_rules:
  - {kind: Database, group: example.com, field: 'status.conditions[Ready].reason',
     failed: [ProvisioningFailed], failed_after: 2m}
  - {kind: Database, group: example.com, field: 'status.conditions[Ready].status',
     current: ['True'], in_progress: ['False', Unknown]}
  - {kind: '*', field: status.health, failed: [Broken]}
""")
    assert config.status_rules == (
        StatusRule("Database", "status.conditions[Ready].reason", "example.com",
                   failed=("ProvisioningFailed",), failed_after=timedelta(minutes=2)),
        StatusRule("Database", "status.conditions[Ready].status", "example.com", current=("True",),
                   in_progress=("False", "Unknown")),
        StatusRule("*", "status.health", failed=("Broken",)),
    )


@pytest.mark.parametrize(
    ("rules", "problem"),
    [
        ("  - {kind: Database, field: status.phase, failed: [X]}\n"
         "  - {kind: Database, field: status.phase, current: [Y]}\n",
         "a second rule for Database and status.phase"),
        ("  - {kind: Database, field: status.phase, failed: [X], failed_after: soon}\n", "invalid duration"),
        ("  - {kind: 'Data base', field: status.phase, failed: [X]}\n", "is not a kind"),
    ],
    ids=["same-field-twice", "bad-grace", "bad-kind"],
)
def test_rule_mistakes_are_problems(rules: str, problem: str) -> None:
    with pytest.raises(ConfigError) as err:
        parse_config(RELEASE + "status_rules:\n" + rules)
    assert any(problem in p.message for p in err.value.problems), err.value.user_message()


def test_a_rules_file_holds_only_status_rules(tmp_path: Path) -> None:
    good = tmp_path / "rules.yaml"
    good.write_text("status_rules:\n  - {kind: postgresql, group: acid.zalan.do, "
                    "field: status.PostgresClusterStatus, current: [Running], failed: [CreateFailed]}\n")
    expected = StatusRule("postgresql", "status.PostgresClusterStatus", "acid.zalan.do", current=("Running",),
                          failed=("CreateFailed",))
    assert load_status_rules(good) == (expected,)
    other = tmp_path / "config.yaml"
    other.write_text(RELEASE)
    with pytest.raises(ConfigError) as err:
        load_status_rules(other)
    assert "releases" in err.value.user_message()
    with pytest.raises(ConfigError):
        load_status_rules(tmp_path / "missing.yaml")

"""Bad values are refused by helm itself, before anything reaches a cluster, with a message naming the value.

Two layers: values.schema.json (types, enums, patterns, unknown keys; helm's "values don't meet the
specifications of the schema(s)") and the chart's own checks for what a schema cannot express (fail in
_helpers.tpl). Also: values.yaml documents every value for helm-docs, and the schema describes them.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from tests.chart.support import CHART, TOKENS, render, render_error, run_helm

SHOP = ("config.releases[0].name=shop", "config.releases[0].namespace=shop",
        "config.releases[0].chart=./charts/shop", "config.releases[0].channel=C0123456789")


@pytest.mark.parametrize(("sets", "says"), [
    (["replicaCount=0"], "at '/replicaCount': minimum: got 0, want 1"),
    (["config.slack.mode=carrier-pigeon"], "at '/config/slack/mode': value must be one of 'http', 'socket'"),
    (["rbac.mode=admin"], "at '/rbac/mode': value must be one of 'deploy', 'noticesOnly'"),
    (["image.tag=latest"], "at '/image/tag'"),
    (["image.digest=abc"], "at '/image/digest'"),
    (["replicaz=2"], "additional properties 'replicaz' not allowed"),
    (["config.slack.bogus=1"], "at '/config/slack': additional properties 'bogus' not allowed"),
    (["config.defaults.helm_timeout=5 minutes"], "at '/config/defaults/helm_timeout'"),
    ([*SHOP[:3], "config.releases[0].channel=general"], "at '/config/releases/0/channel'"),
    (SHOP[:1] + SHOP[2:], "at '/config/releases/0': missing property 'namespace'"),
    ([*SHOP, "config.releases[0].notices=sometimes"], "at '/config/releases/0/notices'"),
    (["config.state.url=mysql://db/helmbot"], "at '/config/state/url'"),
    (["config.notices.namespaces[0]=Payments_Team"], "at '/config/notices/namespaces/0'"),
    (["rbac.deployRules[0].verbs[0]=destroy"], "at '/rbac/deployRules/0/verbs/0'"),
    (["persistence.size=lots"], "at '/persistence/size'"),
])
def test_schema_refuses_bad_values(sets: list[str], says: str) -> None:
    err = render_error(sets=[*TOKENS, *sets])
    assert "values don't meet the specifications of the schema" in err
    assert says in err, err


@pytest.mark.parametrize(("sets", "says"), [
    (["replicaCount=2"],
     "replicaCount is 2 but config.state.url is SQLite: SQLite is one pod only"),
    (["config.state.url=postgresql://bot:hunter2@db:5432/helmbot"],
     "config.state.url must not contain a password"),
    (["config.slack.mode=socket", "auth.appToken=xapp-1", "ingress.enabled=true"],
     "ingress.enabled needs config.slack.mode: http"),
    (["rbac.mode=noticesOnly", "rbac.additionalRules[0].apiGroups[0]=apps",
      "rbac.additionalRules[0].resources[0]=deployments", "rbac.additionalRules[0].verbs[0]=patch"],
     'rbac.additionalRules[0] grants "patch", but rbac.mode noticesOnly allows only get, list and watch'),
    ([*SHOP, "config.releases[0].create_namespace=true"],
     "config.releases[0] (shop) has create_namespace: true, which needs rbac.clusterWide: true"),
    (["config.state.url=sqlite:////helmbot.db"], "the database must be a file in a directory of its own"),
    (["config.state.url=sqlite:///var/lib/helmbot/helmbot.db"],
     "is a relative path (sqlite:///PATH is relative to the working directory, outside the volume)"),
])
def test_chart_refuses_values_a_schema_cannot_judge(sets: list[str], says: str) -> None:
    err = render_error(sets=[*TOKENS, *sets])
    assert says in err, err
    assert "hunter2" not in err, "a password in a value is never echoed"


@pytest.mark.parametrize(("sets", "says"), [
    ([], "no Slack bot token: set auth.existingSecret"),
    (["auth.botToken=xoxb-1"], "HTTP mode needs the signing secret"),
    (["auth.botToken=xoxb-1", "config.slack.mode=socket"], "Socket Mode needs an app-level token"),
])
def test_without_an_existing_secret_the_tokens_are_required(sets: list[str], says: str) -> None:
    assert says in render_error(sets=sets)


def test_defaults_lint_clean_but_refuse_to_render_without_a_token() -> None:
    """helm lint treats `fail` leniently, so the bare defaults lint clean; a render says what is missing."""
    bare = run_helm("lint", "--strict", str(CHART))
    assert bare.returncode == 0, bare.stdout + bare.stderr
    assert "no Slack bot token" in render_error()
    assert render(sets=["auth.existingSecret=slack"]).one("Deployment")


def test_values_yaml_documents_every_value_for_helm_docs() -> None:
    """Each value has a `# --` comment above it, or sits under a documented parent."""
    lines = (CHART / "values.yaml").read_text().splitlines()
    stack: list[tuple[int, bool]] = []   # (indent, documented) of the enclosing keys
    undocumented: list[str] = []
    for i, line in enumerate(lines):
        m = re.match(r"^(\s*)([A-Za-z_][A-Za-z0-9_]*):(.*)$", line)
        if not m:
            continue
        indent = len(m.group(1))
        while stack and stack[-1][0] >= indent:
            stack.pop()
        j = i - 1
        while j >= 0 and lines[j].strip().startswith("#") and not lines[j].strip().startswith("# --"):
            j -= 1
        documented = j >= 0 and lines[j].strip().startswith("# --")
        in_list = any(lines[k].lstrip().startswith("- ") and len(lines[k]) - len(lines[k].lstrip()) < indent
                      for k in range(max(0, i - 3), i))
        is_leaf = m.group(3).strip() != ""
        if is_leaf and not in_list and not documented and not any(d for _, d in stack):
            undocumented.append(f"line {i + 1}: {m.group(2)}")
        stack.append((indent, documented))
    assert not undocumented, undocumented


def test_schema_is_draft_07_and_describes_every_property() -> None:
    schema = json.loads((CHART / "values.schema.json").read_text())
    assert schema["$schema"] == "http://json-schema.org/draft-07/schema#"
    assert schema["additionalProperties"] is False
    missing: list[str] = []

    def walk(node: Any, path: str) -> None:
        if not isinstance(node, dict):
            return
        for name, prop in (node.get("properties") or {}).items():
            if "description" not in prop and "$ref" not in prop:
                missing.append(f"{path}.{name}")
            walk(prop, f"{path}.{name}")
        for key in ("items", "additionalProperties"):
            walk(node.get(key), f"{path}[{key}]")

    walk(schema, "")
    for name, definition in schema["definitions"].items():
        if "description" not in definition:
            missing.append(f"definitions.{name}")
        walk(definition, f"definitions.{name}")
    assert not missing, missing

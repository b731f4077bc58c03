"""The chart rendered by the real helm for each chart/ci values set: lint, Kubernetes schemas, what matters.

Every values set must lint clean with --strict and give objects valid against the strict Kubernetes 1.35
schemas. Then: RBAC only where the values say (and read-only where it should be), the Secret only without
an existing one, a PDB only with several replicas, probes and the hardened security context, a checksum that
follows the config, and a config file with the documented keys.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.chart.support import (
    CHART,
    CI_VALUES,
    NAMESPACE,
    READ_VERBS,
    REPO,
    render,
    run_helm,
    schema_problem,
    value_args,
    verbs,
)

CI = {p.stem.removesuffix("-values"): p for p in CI_VALUES}


def test_the_ci_values_sets_cover_the_modes_we_ship() -> None:
    assert set(CI) == {"http", "socket", "existing-secret", "cluster-wide", "namespaces", "notices-only",
                       "postgres"}


@pytest.mark.parametrize("values", CI_VALUES, ids=lambda p: p.stem)
def test_lint_strict_is_clean(values: Path) -> None:
    proc = run_helm("lint", "--strict", str(CHART), *value_args([values]))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "[WARNING]" not in proc.stdout and "[ERROR]" not in proc.stdout, proc.stdout


@pytest.mark.parametrize("values", CI_VALUES, ids=lambda p: p.stem)
def test_every_object_is_valid_for_kubernetes_1_35(values: Path) -> None:
    objects = render([values]).objects
    problems = [p for p in map(schema_problem, objects) if p]
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("values", CI_VALUES, ids=lambda p: p.stem)
def test_pod_is_hardened_and_probed(values: Path) -> None:
    out = render([values])
    pod = out.one("Deployment")["spec"]["template"]["spec"]
    c = out.container
    assert pod["automountServiceAccountToken"] is True
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] == 10001
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    sc = c["securityContext"]
    assert sc["runAsNonRoot"] is True and sc["runAsUser"] == 10001
    assert sc["readOnlyRootFilesystem"] is True and sc["allowPrivilegeEscalation"] is False
    assert sc["capabilities"] == {"drop": ["ALL"]}
    assert sc["seccompProfile"] == {"type": "RuntimeDefault"}

    assert c["ports"] == [{"name": "http", "containerPort": out.config["slack"]["port"], "protocol": "TCP"}]
    assert c["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert c["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    assert c["command"] == ["helmbot"] and c["args"][:3] == ["run", "--config", "/etc/helmbot/config.yaml"]
    assert re.fullmatch(r"[^:@]+:[0-9][^:@]*", c["image"]), "pinned by a version tag"
    assert c["resources"]["requests"] and c["resources"]["limits"]["memory"]

    # the read-only root: writable emptyDirs for /tmp and helm's home, where HELM_*_HOME point
    mounts = {m["mountPath"]: m["name"] for m in c["volumeMounts"]}
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert "emptyDir" in volumes[mounts["/tmp"]]
    assert "emptyDir" in volumes[mounts["/home/helmbot"]]
    env = out.env
    for var in ("HELM_CACHE_HOME", "HELM_CONFIG_HOME", "HELM_DATA_HOME"):
        assert env[var].startswith("/home/helmbot/"), var
    assert env["POD_NAME"] == {"fieldRef": {"fieldPath": "metadata.name"}}
    assert volumes[mounts["/etc/helmbot"]]["configMap"]["name"] == out.one("ConfigMap")["metadata"]["name"]

    annotations = out.one("Deployment")["spec"]["template"]["metadata"]["annotations"]
    assert re.fullmatch(r"[0-9a-f]{64}", annotations["checksum/config"])


@pytest.mark.parametrize("values", CI_VALUES, ids=lambda p: p.stem)
def test_tokens_come_from_the_secret_and_never_from_the_config(values: Path) -> None:
    out = render([values])
    auth = _values(values).get("auth", {})
    secret_name = auth.get("existingSecret") or "hb-helmbot"
    keys = {"botToken": "SLACK_BOT_TOKEN", "signingSecret": "SLACK_SIGNING_SECRET",
            "appToken": "SLACK_APP_TOKEN", "statePassword": "HELMBOT_STATE_PASSWORD",
            **auth.get("secretKeys", {})}
    mode = out.config["slack"]["mode"]
    env = out.env
    wanted = {"SLACK_BOT_TOKEN": keys["botToken"]}
    wanted["SLACK_SIGNING_SECRET" if mode == "http" else "SLACK_APP_TOKEN"] = (
        keys["signingSecret"] if mode == "http" else keys["appToken"])
    for var, key in wanted.items():
        assert env[var] == {"secretKeyRef": {"name": secret_name, "key": key}}, var
    unwanted = "SLACK_APP_TOKEN" if mode == "http" else "SLACK_SIGNING_SECRET"
    assert unwanted not in env

    secrets = out.of_kind("Secret")
    if auth.get("existingSecret"):
        assert secrets == [], "an existing Secret means the chart renders none"
        assert "checksum/secret" not in out.one("Deployment")["spec"]["template"]["metadata"]["annotations"]
    else:
        assert [s["metadata"]["name"] for s in secrets] == [secret_name]
        assert set(wanted.values()) <= set(secrets[0]["data"])
    config_text = out.one("ConfigMap")["data"]["config.yaml"]
    for token in ("xoxb-", "xapp-", "signing-secret", "db-password"):
        assert token not in config_text


def test_http_mode_exposes_only_slack_events() -> None:
    out = render([CI["http"]])
    ingress = out.one("Ingress")
    (rule,) = ingress["spec"]["rules"]
    assert rule["host"] == "helmbot.example.com"
    (path,) = rule["http"]["paths"]
    assert path["path"] == "/slack/events"
    assert path["backend"]["service"] == {"name": "hb-helmbot", "port": {"name": "http"}}
    service = out.one("Service")
    assert service["spec"]["ports"][0]["targetPort"] == "http"
    assert service["spec"]["selector"] == out.one("Deployment")["spec"]["selector"]["matchLabels"]


def test_socket_mode_has_no_service_and_no_ingress() -> None:
    out = render([CI["socket"]])
    assert not out.of_kind("Service") and not out.of_kind("Ingress")
    assert out.config["slack"]["mode"] == "socket"
    # persistence off: the SQLite directory is an emptyDir (the read-only root needs one)
    pod = out.one("Deployment")["spec"]["template"]["spec"]
    data = next(v for v in pod["volumes"] if v["name"] == "data")
    assert "emptyDir" in data and not out.of_kind("PersistentVolumeClaim")


def test_sqlite_runs_one_pod_recreated_with_its_volume_where_the_url_points() -> None:
    out = render([CI["existing-secret"]], ["config.state.url=sqlite:////data/bot/helmbot.db"])
    deploy = out.one("Deployment")
    assert deploy["spec"]["replicas"] == 1
    assert deploy["spec"]["strategy"] == {"type": "Recreate"}
    mounts = {m["name"]: m["mountPath"] for m in out.container["volumeMounts"]}
    assert mounts["data"] == "/data/bot"
    claim = out.one("PersistentVolumeClaim")
    pod_volumes = deploy["spec"]["template"]["spec"]["volumes"]
    assert {"name": "data", "persistentVolumeClaim": {"claimName": claim["metadata"]["name"]}} in pod_volumes
    assert not out.of_kind("PodDisruptionBudget")


def test_postgres_with_two_replicas_elects_a_leader() -> None:
    out = render([CI["postgres"]])
    deploy = out.one("Deployment")
    assert deploy["spec"]["replicas"] == 2
    assert deploy["spec"]["strategy"]["type"] == "RollingUpdate"
    pdb = out.one("PodDisruptionBudget")
    assert pdb["spec"]["selector"]["matchLabels"] == deploy["spec"]["selector"]["matchLabels"]
    assert not out.of_kind("PersistentVolumeClaim")
    assert "data" not in {m["name"] for m in out.container["volumeMounts"]}
    password = out.env["HELMBOT_STATE_PASSWORD"]["secretKeyRef"]
    assert password == {"name": "hb-helmbot", "key": "HELMBOT_STATE_PASSWORD", "optional": True}
    election = out.config["leader_election"]
    assert election["namespace"] == "helmbot-system" and election["lease_name"] == "hb-helmbot-leader"

    (lease_role,) = [r for r in out.of_kind("Role") if r["metadata"]["name"].endswith("-leader-election")]
    assert lease_role["metadata"]["namespace"] == "helmbot-system"
    assert lease_role["rules"] == [
        {"apiGroups": ["coordination.k8s.io"], "resources": ["leases"], "verbs": ["create"]},
        {"apiGroups": ["coordination.k8s.io"], "resources": ["leases"],
         "resourceNames": ["hb-helmbot-leader"], "verbs": ["get", "update"]},
    ]
    monitor = out.one("ServiceMonitor")
    assert monitor["metadata"]["labels"]["release"] == "prometheus"
    assert monitor["spec"]["endpoints"] == [{"port": "http", "path": "/metrics", "interval": "30s",
                                             "scrapeTimeout": "10s"}]


def test_a_pdb_only_with_several_replicas() -> None:
    assert not render([CI["postgres"]], ["replicaCount=1"]).of_kind("PodDisruptionBudget")
    assert render([CI["postgres"]], ["replicaCount=3"]).one("PodDisruptionBudget")


# ---- RBAC ------------------------------------------------------------------------------------------------

def _resources(rules: list[dict[str, Any]], verb: str) -> set[str]:
    return {f"{g}/{r}" for rule in rules if verb in rule["verbs"] for g in rule["apiGroups"]
            for r in rule["resources"]}


def test_default_rbac_is_a_role_in_the_release_namespace_and_nothing_broader() -> None:
    out = render([CI["existing-secret"]])
    assert not out.of_kind("ClusterRole") and not out.of_kind("ClusterRoleBinding")
    grants = out.rules_by_namespace()
    assert set(grants) == {"shop"}
    rules = grants["shop"]
    for rule in rules:
        assert "*" not in rule["verbs"] + rule["resources"] + rule["apiGroups"], rule
    # what the tracker reads
    readable = _resources(rules, "watch")
    for res in ("/pods", "/events", "apps/deployments", "apps/replicasets",
                "apps/statefulsets", "apps/daemonsets", "batch/jobs", "/persistentvolumeclaims",
                "/services", "/secrets"):
        assert res in readable, res
    assert "/pods/log" in _resources(rules, "get")
    # what helm writes: its release Secrets and the default deploy kinds, nothing cluster-scoped
    writable = _resources(rules, "create")
    assert {"/secrets", "/configmaps", "apps/deployments", "batch/jobs"} <= writable
    assert not {"/namespaces", "/nodes", "/persistentvolumes"} & (readable | writable)
    subject = out.one("RoleBinding")["subjects"]
    assert subject == [{"kind": "ServiceAccount", "name": "hb-helmbot", "namespace": NAMESPACE}]


def test_several_namespaces_get_one_role_each_and_notice_namespaces_read_only() -> None:
    out = render([CI["namespaces"]])
    grants = out.rules_by_namespace()
    # shop-prod is deployed through its own kubeconfig (cluster "prod"): nothing is granted for it here
    assert set(grants) == {"shop", "ledger", "payments"}
    assert "create" in verbs(grants["shop"]) and "create" in verbs(grants["ledger"])
    assert verbs(grants["payments"]) <= READ_VERBS
    assert not out.of_kind("ClusterRole")


def test_cluster_wide_is_one_cluster_role_that_may_create_namespaces() -> None:
    out = render([CI["cluster-wide"]])
    assert not out.of_kind("Role") and not out.of_kind("RoleBinding")
    role = out.one("ClusterRole")
    binding = out.one("ClusterRoleBinding")
    assert binding["roleRef"]["name"] == role["metadata"]["name"]
    assert binding["subjects"][0]["namespace"] == NAMESPACE
    assert "/namespaces" in _resources(role["rules"], "create")


def test_notices_only_grants_no_write_verb_anywhere() -> None:
    out = render([CI["notices-only"]])
    grants = out.rules_by_namespace()
    assert set(grants) == {"shop", "payments"}
    for ns, rules in grants.items():
        assert verbs(rules) <= READ_VERBS, ns
    # it still reads every kind a release contains (the tracker watches them)
    assert "/configmaps" in _resources(grants["shop"], "watch")


def test_notices_only_with_postgres_writes_only_its_lease() -> None:
    out = render([CI["notices-only"]], ["config.state.url=postgresql://bot@db:5432/helmbot",
                                        "replicaCount=2"])
    writers = [(r["metadata"]["name"], rule) for r in out.of_kind("Role") + out.of_kind("ClusterRole")
               for rule in r["rules"] if set(rule["verbs"]) - READ_VERBS]
    assert writers and all(name == "hb-helmbot-leader-election" for name, _ in writers)
    assert all(rule["resources"] == ["leases"] for _, rule in writers)


def test_deploy_rules_and_additional_rules_are_overridable() -> None:
    out = render([CI["existing-secret"]], [
        "rbac.deployRules[0].apiGroups[0]=cert-manager.io",
        "rbac.deployRules[0].resources[0]=certificates",
        "rbac.deployRules[0].verbs[0]=create",
        "rbac.additionalRules[0].apiGroups[0]=",
        "rbac.additionalRules[0].resources[0]=configmaps",
        "rbac.additionalRules[0].verbs[0]=get",
    ])
    rules = out.rules_by_namespace()["shop"]
    assert "cert-manager.io/certificates" in _resources(rules, "create")
    assert "cert-manager.io/certificates" in _resources(rules, "watch"), "deploy kinds stay watchable"
    assert "apps/deployments" not in _resources(rules, "create"), "the list replaces the defaults"


# ---- config and checksum ---------------------------------------------------------------------------------

def test_checksum_follows_the_config_and_nothing_else() -> None:
    def checksum(*sets: str) -> str:
        out = render([CI["existing-secret"]], sets)
        return str(out.one("Deployment")["spec"]["template"]["metadata"]["annotations"]["checksum/config"])

    base = checksum()
    assert checksum("config.log.level=debug") != base
    assert checksum("config.releases[0].deployers[0]=U0OTHER", "config.releases[0].name=shop",
                    "config.releases[0].namespace=shop", "config.releases[0].chart=./charts/shop",
                    "config.releases[0].channel=C0123456789") != base
    assert checksum("resources.limits.memory=1Gi") == base


def test_rendered_config_uses_only_the_documented_keys() -> None:
    documented = documented_config()
    for values in CI_VALUES:
        config = render([values]).config
        problems = list(undocumented_keys(config, documented))
        assert not problems, f"{values.name}: {problems}"


def test_rendered_config_carries_the_values() -> None:
    config = render([CI["namespaces"]]).config
    assert [r["namespace"] for r in config["releases"]] == ["shop", "ledger", "shop-prod"]
    prod = {"kubeconfig": "/var/run/helmbot/kubeconfigs/prod", "context": "prod"}
    assert config["clusters"]["prod"] == prod
    assert config["notices"]["routes"][0]["mode"] == "failures"
    assert config["freezes"][0]["reason"] == "year-end freeze"
    assert config["helm"]["binary"] == "/usr/local/bin/helm"
    assert config["leader_election"]["namespace"] == NAMESPACE
    assert "clusters" not in render([CI["http"]]).config, "empty optional sections are left out"


def test_schema_config_section_describes_exactly_the_documented_keys() -> None:
    """values.schema.json's `config` and docs/bot-design.md's Configuration block name the same keys."""
    schema = json.loads((CHART / "values.schema.json").read_text())
    documented = documented_config()
    config = schema["properties"]["config"]["properties"]
    assert set(config) == set(documented)
    for section in ("slack", "helm", "state", "leader_election", "defaults", "notices", "log"):
        assert set(config[section]["properties"]) == set(documented[section]), section
    assert set(config["releases"]["items"]["properties"]) == set(documented["releases"][0])
    freeze_keys = {k for f in documented["freezes"] for k in f}
    assert set(config["freezes"]["items"]["properties"]) == freeze_keys
    assert set(config["notices"]["properties"]["routes"]["items"]["properties"]) == set(
        documented["notices"]["routes"][0])
    cluster_keys = {k for c in documented["clusters"].values() for k in c}
    assert set(config["clusters"]["additionalProperties"]["properties"]) == cluster_keys


def documented_config() -> dict[str, Any]:
    """The example config in docs/bot-design.md ("Configuration"): the contract for the keys."""
    text = (REPO / "docs" / "bot-design.md").read_text()
    section = text[text.index("## Configuration"):]
    block = section[section.index("```yaml") + len("```yaml"):]
    loaded = yaml.safe_load(block[:block.index("```")])
    assert isinstance(loaded, dict)
    return loaded


# mappings whose keys are names chosen by the user, not config keys
_NAME_MAPS = {"clusters", "labels"}


def undocumented_keys(value: Any, doc: Any, path: str = "") -> list[str]:
    out: list[str] = []
    if isinstance(value, dict):
        for key, sub in value.items():
            where = f"{path}.{key}" if path else str(key)
            if path.rsplit(".", 1)[-1] in _NAME_MAPS:
                examples = list(doc.values()) if isinstance(doc, dict) else []
                merged = {k: v for e in examples if isinstance(e, dict) for k, v in e.items()}
                out += undocumented_keys(sub, merged, where)
            elif not isinstance(doc, dict) or key not in doc:
                out.append(where)
            else:
                out += undocumented_keys(sub, doc[key], where)
    elif isinstance(value, list) and isinstance(doc, list) and doc and isinstance(doc[0], dict):
        merged = {k: v for e in doc if isinstance(e, dict) for k, v in e.items()}
        for i, item in enumerate(value):
            out += undocumented_keys(item, merged, f"{path}[{i}]")
    return out


def test_notes_say_what_was_granted_where_which_secret_and_how_to_check() -> None:
    proc = run_helm("install", "hb", str(CHART), "--namespace", NAMESPACE, "--dry-run=client",
                    *value_args([CI["namespaces"]]))
    assert proc.returncode == 0, proc.stderr
    notes = proc.stdout[proc.stdout.index("NOTES:"):]
    assert "deploy + read: Role hb-helmbot in ledger, shop" in notes
    assert "read only (notices): Role hb-helmbot in payments" in notes
    assert "Secret slack-credentials (existing" in notes and "SLACK_BOT_TOKEN" in notes
    assert "/healthz" in notes and "/readyz" in notes


def _values(path: Path) -> dict[str, Any]:
    loaded = yaml.safe_load(path.read_text())
    return loaded if isinstance(loaded, dict) else {}


def test_rbac_and_service_account_can_be_brought_by_the_platform_team() -> None:
    out = render([CI["namespaces"]], ["rbac.create=false", "serviceAccount.create=false",
                                      "serviceAccount.name=platform-helmbot", "config.notices.enabled=false"])
    assert not {"Role", "RoleBinding", "ClusterRole", "ClusterRoleBinding", "ServiceAccount"} & out.kinds()
    assert out.one("Deployment")["spec"]["template"]["spec"]["serviceAccountName"] == "platform-helmbot"
    without_notices = render([CI["namespaces"]], ["config.notices.enabled=false"]).rules_by_namespace()
    assert set(without_notices) == {"shop", "ledger"}, "notice namespaces only while notices are on"


def test_image_digest_pins_the_tag_too() -> None:
    digest = "sha256:" + "ab" * 32
    image = render([CI["existing-secret"]], [f"image.digest={digest}", "image.tag=0.1.1"]).container["image"]
    assert image == f"helmbot/helmbot:0.1.1@{digest}"

from __future__ import annotations

import base64
import gzip
import json
import subprocess
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from bot.core.planning import Operation, detect_operation, plan_operation
from bot.core.releases import (
    Hook,
    HookPhase,
    HookRun,
    ReleaseDecodeError,
    ReleaseStatus,
    decode_release_json,
    decode_release_payload,
    decode_release_secret,
    encode_release_payload,
    latest_revision,
    parse_manifest,
    pick_release,
    release_secret_name,
)
from tests.core.release_fixtures import (
    T0,
    configmap,
    deployment,
    hook,
    release_json,
    release_secret,
    rfc3339,
    secret_from_release_json,
    service,
)

HOOK_TEMPLATE = """\
apiVersion: batch/v1
kind: Job
metadata:
  name: {{ .Release.Name }}-migrate
  annotations:
    "helm.sh/hook": pre-install,pre-upgrade
    "helm.sh/hook-weight": "-5"
    "helm.sh/hook-delete-policy": hook-succeeded,before-hook-creation
    "helm.sh/hook-output-log-policy": hook-failed
spec:
  backoffLimit: 1
  template:
    spec:
      restartPolicy: Never
      containers:
      - name: migrate
        image: busybox
        command: ["sh", "-c", "echo migrating: {{ .Values.dbPassword }}"]
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ .Release.Name }}-settings
  annotations:
    "helm.sh/hook": pre-install
    "helm.sh/hook-weight": "10"
data:
  script: |
    #!/bin/sh
    echo "hello"
"""


@pytest.fixture(scope="module")
def helm_dry_run_json(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """A release JSON produced by the real helm v4 (install --dry-run=client, no cluster needed)."""
    try:
        from bot.sim.binaries import ensure_binaries

        helm = ensure_binaries().helm
    except Exception as exc:  # pragma: no cover - depends on the binary cache
        pytest.skip(f"real helm unavailable: {exc}")
    root = tmp_path_factory.mktemp("chart")
    subprocess.run([str(helm), "create", "demo"], cwd=root, check=True, capture_output=True,
                   env={"HOME": str(root), "PATH": "/usr/bin:/bin"})
    chart = root / "demo"
    (chart / "templates" / "hooks.yaml").write_text(HOOK_TEMPLATE)
    for p in (chart / "templates" / "tests").glob("*"):
        p.unlink()
    out = subprocess.run(
        [str(helm), "install", "shop", str(chart), "--dry-run=client", "-o", "json", "--namespace", "prod",
         "--set", "dbPassword=hunter2"],
        check=True, capture_output=True, text=True, env={"HOME": str(root), "PATH": "/usr/bin:/bin"},
    )
    return json.loads(out.stdout)


def test_real_helm_release_json_roundtrip(helm_dry_run_json: dict) -> None:
    doc = helm_dry_run_json
    assert doc["config"] == {"dbPassword": "hunter2"}      # helm stores values: we must not carry them
    secret = secret_from_release_json(doc)
    rel = decode_release_secret(secret)
    assert (rel.name, rel.namespace, rel.revision) == ("shop", "prod", 1)
    assert rel.status is ReleaseStatus.PENDING_INSTALL
    assert (rel.chart_name, rel.chart_version, rel.app_version) == ("demo", "0.1.0", "1.16.0")
    assert rel.first_deployed is not None and rel.first_deployed.tzinfo is not None
    assert [r["kind"] for r in rel.resources] == ["ServiceAccount", "Service", "Deployment"]
    assert all(r["metadata"]["namespace"] == "prod" for r in rel.resources)
    assert rel.resource_sources == ("demo/templates/serviceaccount.yaml", "demo/templates/service.yaml",
                                    "demo/templates/deployment.yaml")
    by_name = {h.name: h for h in rel.hooks}
    mig = by_name["shop-migrate"]
    assert (mig.kind, mig.api_version, mig.weight) == ("Job", "batch/v1", -5)
    assert mig.events == ("pre-install", "pre-upgrade")
    assert mig.delete_policies == ("hook-succeeded", "before-hook-creation")
    assert mig.output_log_policies == ("hook-failed",)
    assert mig.last_run.phase is HookPhase.UNKNOWN         # helm writes "" for a hook that never ran
    assert mig.manifest["spec"]["template"]["spec"]["containers"][0]["command"][0] == "sh"
    cm = by_name["shop-settings"]
    assert (cm.weight, cm.delete_policies) == (10, ("before-hook-creation",))
    assert cm.manifest["data"]["script"] == '#!/bin/sh\necho "hello"'   # helm trims the hook text
    assert "hunter2" not in repr(rel)


def test_secret_double_base64_gzip() -> None:
    s = release_secret("shop", 3, "deployed", manifest_objects=[deployment("shop-web")],
                       labels={"team": "payments"}, modified_at=T0 + timedelta(minutes=5))
    inner = base64.b64decode(s["data"]["release"])
    assert base64.b64decode(inner)[:3] == b"\x1f\x8b\x08"
    rel = decode_release_secret(s)
    assert rel.revision == 3 and rel.status == "deployed" and rel.description == "Upgrade complete"
    assert rel.labels == {"team": "payments"}
    assert rel.secret is not None
    assert rel.secret.name == "sh.helm.release.v1.shop.v3"
    assert rel.secret.status == "deployed" and rel.secret.revision == 3
    assert rel.secret.modified_at == (T0 + timedelta(minutes=5)).replace(microsecond=0)
    assert rel.key == release_secret_name("shop", 3) == "sh.helm.release.v1.shop.v3"


def test_plain_json_payload_without_gzip() -> None:
    s = release_secret("shop", 1, gzip=False)
    assert base64.b64decode(base64.b64decode(s["data"]["release"]))[:1] == b"{"
    assert decode_release_secret(s).status is ReleaseStatus.DEPLOYED


def test_secret_with_one_base64_layer_already_removed() -> None:
    s = release_secret("shop", 2)
    s["data"]["release"] = base64.b64decode(s["data"]["release"]).decode()
    s["data"]["release"] = base64.b64encode(base64.b64decode(s["data"]["release"])).decode()
    assert decode_release_secret(s).revision == 2


def test_payload_roundtrip_and_bytes() -> None:
    doc = release_json("api", 4, "pending-upgrade", namespace="apps")
    payload = encode_release_payload(doc)
    assert decode_release_payload(payload).status is ReleaseStatus.PENDING_UPGRADE
    assert decode_release_payload(payload.encode()).namespace == "apps"


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (lambda s: s["data"].__setitem__("release", "!!!notbase64"), "data.release is not valid base64"),
        (lambda s: s["data"].__setitem__("release", base64.b64encode(b"%%%").decode()),
         "not valid base64"),
        (lambda s: s["data"].__setitem__(
            "release", base64.b64encode(base64.b64encode(b"\x1f\x8b\x08garbage")).decode()),
         "gzip data is corrupt"),
        (lambda s: s["data"].__setitem__(
            "release", base64.b64encode(base64.b64encode(gzip.compress(b'{"name": "x", "pass'))).decode()),
         "release JSON is invalid"),
        (lambda s: s["data"].__setitem__(
            "release", base64.b64encode(base64.b64encode(gzip.compress(b"[1, 2]"))).decode()),
         "expected an object"),
        (lambda s: s.__setitem__("data", {}), "data.release is missing"),
    ],
)
def test_corrupted_payloads_raise_clear_errors(mutate, expected: str) -> None:
    s = release_secret("shop", 7, config={"dbPassword": "hunter2"})
    mutate(s)
    with pytest.raises(ReleaseDecodeError) as err:
        decode_release_secret(s)
    assert expected in str(err.value)
    assert "default/sh.helm.release.v1.shop.v7" in str(err.value)
    assert "hunter2" not in str(err.value)


def test_truncated_gzip_is_an_error() -> None:
    payload = base64.b64decode(encode_release_payload(release_json("x")))
    broken = base64.b64encode(payload[: len(payload) // 2]).decode()
    with pytest.raises(ReleaseDecodeError, match="gzip data is corrupt"):
        decode_release_payload(broken)


def test_missing_version_and_bad_status() -> None:
    with pytest.raises(ReleaseDecodeError, match="no valid version"):
        decode_release_json({"name": "x", "info": {"status": "deployed"}})
    with pytest.raises(ReleaseDecodeError, match="unknown release status 'exploded'"):
        decode_release_json({"name": "x", "version": 1, "info": {"status": "exploded"}})
    with pytest.raises(ReleaseDecodeError, match="not an RFC3339 timestamp"):
        decode_release_json({"name": "x", "version": 1, "info": {"last_deployed": "yesterday"}})


def test_config_is_never_carried() -> None:
    s = release_secret("shop", 1, config={"dbPassword": "hunter2"})
    rel = decode_release_secret(s)
    assert not hasattr(rel, "config")
    assert "hunter2" not in repr(rel)


def test_all_statuses_decode() -> None:
    for status in ("unknown", "deployed", "uninstalled", "superseded", "failed", "uninstalling",
                   "pending-install", "pending-upgrade", "pending-rollback"):
        assert decode_release_json(release_json("x", 2, status)).status.value == status
    assert ReleaseStatus("pending-rollback").pending and not ReleaseStatus.DEPLOYED.pending


def test_timestamps_nanoseconds_offsets_and_zero_values() -> None:
    doc = release_json("x")
    doc["info"]["first_deployed"] = "2025-03-04T05:06:07.123456789+02:00"
    doc["info"]["last_deployed"] = "2025-03-04T03:06:08Z"
    doc["info"]["deleted"] = ""                             # helm 3 wrote zero times as ""
    rel = decode_release_json(doc)
    assert rel.first_deployed == datetime(2025, 3, 4, 3, 6, 7, 123456, tzinfo=UTC)
    assert rel.first_deployed.utcoffset() == timedelta(hours=2)
    assert rel.last_deployed == datetime(2025, 3, 4, 3, 6, 8, tzinfo=UTC)
    assert rel.deleted is None
    doc["info"]["deleted"] = "0001-01-01T00:00:00Z"         # Go's zero time
    assert decode_release_json(doc).deleted is None
    assert rfc3339(datetime(2025, 1, 1, tzinfo=timezone(timedelta(hours=-5)))) == "2025-01-01T00:00:00-05:00"


def test_namespace_defaulting_and_cluster_scoped_kinds() -> None:
    crd = {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
           "metadata": {"name": "widgets.example.com"}}
    other_ns = deployment("elsewhere", namespace="ops")
    rel = decode_release_json(release_json("x", namespace="apps",
                                           manifest_objects=[crd, service("svc"), other_ns]))
    ns = [r["metadata"].get("namespace") for r in rel.resources]
    assert ns == [None, "apps", "ops"]


def test_empty_documents_skipped_and_source_kept() -> None:
    manifest = "---\n# Source: app/templates/empty.yaml\n\n---\n# Source: app/templates/cm.yaml\n" + \
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n---\n"
    docs = parse_manifest(manifest, "ns")
    assert docs == [("app/templates/cm.yaml",
                     {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "namespace": "ns"}})]


def test_unparseable_documents_keep_identity_and_are_recorded() -> None:
    manifest = (
        "---\n# Source: app/templates/tagged.yaml\napiVersion: v1\nkind: ConfigMap\nmetadata:\n"
        "  name: tagged\n  namespace: x\ndata:\n  a: !vault c2VjcmV0LXZhbHVl\n"
        "---\n# Source: app/templates/broken.yaml\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n"
        "  name: web\nspec:\n  template: {containers: [hunter2\n"
        "---\n# Source: app/templates/list.yaml\n- hunter2\n"
        "---\n# Source: app/templates/cm.yaml\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: fine\n"
    )
    problems: list[str] = []
    docs = parse_manifest(manifest, "ns", problems)
    assert docs == [
        ("app/templates/tagged.yaml",
         {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "tagged", "namespace": "x"}}),
        ("app/templates/broken.yaml",
         {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": "ns"}}),
        ("app/templates/cm.yaml",
         {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "fine", "namespace": "ns"}}),
    ]
    assert len(problems) == 3
    tagged, broken, listed = problems
    assert tagged.startswith("app/templates/tagged.yaml (line 2): unreadable YAML (could not determine a "
                             "constructor for the tag '!vault' at document line 8); kept apiVersion/kind")
    assert broken.startswith("app/templates/broken.yaml (line 11): unreadable YAML (")
    assert listed == "app/templates/list.yaml (line 19): a document is a list, not an object; skipped"
    assert not any("hunter2" in p or "c2VjcmV0" in p for p in problems)
    assert parse_manifest(manifest, "ns") == docs            # problems are optional


def test_release_records_problems_of_resources_and_hooks() -> None:
    doc = release_json("x", manifest_objects=[configmap("ok")])
    doc["manifest"] += "\n---\n# Source: app/templates/bad.yaml\nkind: Secret\nmetadata:\n  name: s\n" \
        "data: {a: !sops x}\n"
    doc["hooks"] = [hook("mig")]
    doc["hooks"][0]["manifest"] += "\n  extra: !custom 1"
    rel = decode_release_json(doc)
    assert [r["metadata"]["name"] for r in rel.resources] == ["ok", "s"]
    assert rel.resources[1] == {"kind": "Secret", "metadata": {"name": "s", "namespace": "default"}}
    [mig] = rel.hooks
    assert (mig.name, mig.kind, mig.api_version, mig.manifest["metadata"]) == (
        "mig", "Job", "batch/v1", {"name": "mig", "namespace": "default"})
    assert len(rel.manifest_problems) == 2
    assert rel.manifest_problems[0].startswith("app/templates/bad.yaml (line ")
    assert rel.manifest_problems[1].startswith("hook mig manifest (line 1): unreadable YAML (could not "
                                               "determine a constructor for the tag '!custom'")
    assert decode_release_json(release_json("y", manifest_objects=[configmap("c")])).manifest_problems == ()


def test_yaml_types_as_kubernetes_reads_them() -> None:
    """YAML 1.1 scalars as the Kubernetes YAML-to-JSON step resolves them; see the module docstring."""
    manifest = """\
apiVersion: v1
kind: ConfigMap
metadata:
  name: types
  annotations: {when: 2025-01-02, at: 2025-01-02T03:04:05Z, op: =}
spec:
  flags: [on, off, yes, no, true, false, ~, null]
  numbers: [010, 0x1F, 1_000, 1.5, -2, "3"]
  text: [y, n, 1e3, 0o17, '2025-01-02']
  2: int key
  true: bool key
  ~: null key
  shared: &anchor {a: 1}
  again: *anchor
  folded: >
    one
    two
  literal: |
    keep
      indent
"""
    [(_, obj)] = parse_manifest(manifest, "ns")
    assert obj["metadata"]["annotations"] == {"when": "2025-01-02", "at": "2025-01-02T03:04:05Z", "op": "="}
    spec = obj["spec"]
    assert spec["flags"] == [True, False, True, False, True, False, None, None]
    assert spec["numbers"] == [8, 31, 1000, 1.5, -2, "3"]
    assert spec["text"] == ["y", "n", "1e3", "0o17", "2025-01-02"]    # Kubernetes: True, False, 1000, 15
    assert (spec["2"], spec["true"], spec["null"]) == ("int key", "bool key", "null key")
    assert spec["shared"] == spec["again"] == {"a": 1}
    assert (spec["folded"], spec["literal"]) == ("one two\n", "keep\n  indent\n")
    assert json.loads(json.dumps(obj)) == obj                    # JSON-shaped, like an API object


def test_explicit_tags_stay_json_shaped() -> None:
    manifest = ("kind: Secret\nmetadata: {name: s}\ndata:\n  bin: !!binary aGk=\n"
                "  day: !!timestamp 2025-01-02\n  set: !!set {a, b}\n  str: !!str 10\n")
    [(_, obj)] = parse_manifest(manifest)
    assert obj["data"] == {"bin": "aGk=", "day": "2025-01-02", "set": {"a": None, "b": None}, "str": "10"}


def test_aliases_are_not_expanded() -> None:
    """A "billion laughs" document stays cheap: aliases stay shared objects, as PyYAML builds them."""
    lines = ["kind: ConfigMap", "metadata: {name: lol}", f"l0: &l0 [{', '.join(['lol'] * 9)}]"]
    lines += [f"l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 9)}]" for i in range(1, 10)]
    [(_, obj)] = parse_manifest("\n".join(lines) + "\n")
    assert obj["l9"][0] is obj["l9"][1] is obj["l8"]


def test_document_end_markers_and_several_documents_without_source() -> None:
    manifest = "kind: A\nmetadata: {name: a}\n...\n---\nkind: B\nmetadata: {name: b}\n--- \n\n---\n"
    assert [(src, o["kind"]) for src, o in parse_manifest(manifest)] == [("", "A"), ("", "B")]


def test_hooks_weight_phase_and_default_delete_policy() -> None:
    h1 = hook("db-migrate", weight="-5", phase="Succeeded", started_at=T0,
              completed_at=T0 + timedelta(seconds=9), delete_policies=["hook-succeeded"])
    h2 = hook("notify", kind="ConfigMap", events=["post-upgrade"], weight=10)
    rel = decode_release_json(release_json("x", 2, hooks=[h1, h2]))
    mig, cm = rel.hooks
    assert mig.weight == -5 and mig.delete_policies == ("hook-succeeded",)
    assert mig.deleted_on_success and mig.waited
    assert mig.last_run.phase is HookPhase.SUCCEEDED
    assert mig.last_run.completed_at - mig.last_run.started_at == timedelta(seconds=9)
    assert cm.delete_policies == ("before-hook-creation",) and not cm.waited
    assert rel.hooks_for("post-upgrade") == (cm,)
    assert mig.manifest["metadata"]["annotations"]["helm.sh/hook-weight"] == "-5"
    assert mig.namespace == "default"


def test_latest_and_pick() -> None:
    secrets = [release_secret("shop", r, "superseded") for r in (1, 2)] + [
        release_secret("shop", 3, "deployed"), release_secret("other", 9)]
    assert latest_revision(secrets, "shop") == 3
    assert latest_revision(secrets) == 9
    assert latest_revision([]) is None
    rel = pick_release(secrets, name="shop")
    assert rel is not None and rel.revision == 3 and rel.status is ReleaseStatus.DEPLOYED
    rel2 = pick_release(secrets, 2, name="shop")
    assert rel2 is not None and rel2.status is ReleaseStatus.SUPERSEDED
    assert pick_release(secrets, 5, name="shop") is None
    # a corrupt older revision does not matter when it is not the one picked
    secrets[0]["data"]["release"] = "broken"
    assert pick_release(secrets, name="shop").revision == 3  # type: ignore[union-attr]


def test_fixture_manifest_roundtrip() -> None:
    objs = [configmap("c", {"k": "multi\nline\n"}), deployment("d"), service("s", type="LoadBalancer")]
    rel = decode_release_json(release_json("x", manifest_objects=objs, namespace="default"))
    expected = json.loads(json.dumps(objs))
    for o in expected:
        o["metadata"]["namespace"] = "default"
    assert list(rel.resources) == expected


def test_fixture_files_parse(tmp_path: Path) -> None:
    # the builders' Secret survives a JSON round trip (what a recorded fixture file would hold)
    s = json.loads(json.dumps(release_secret("shop", 2, hooks=[hook("m")])))
    assert decode_release_secret(s).hooks[0].name == "m"


# --- Secrets written by the real helm v4 into the stand-in (tests/core/fixtures/capture.py) -------------

FIXTURES = Path(__file__).parent / "fixtures"


def _captured(name: str) -> list[dict]:
    return json.loads((FIXTURES / f"helm4_{name}_secrets.json").read_text())


def _raw(secret: dict) -> dict:
    return json.loads(gzip.decompress(base64.b64decode(base64.b64decode(secret["data"]["release"]))))


def _ran_in_order(hooks: Sequence[Hook], since: datetime | None) -> None:
    """Each hook ran after the operation started and after the previous one finished (one at a time)."""
    assert since is not None
    for h in hooks:
        run = h.last_run
        assert run.started_at is not None and run.completed_at is not None
        assert since <= run.started_at <= run.completed_at, h
        since = run.completed_at


def test_captured_install_upgrade_rollback() -> None:
    secrets = _captured("plain")
    rels = [decode_release_secret(s) for s in secrets]
    assert [(r.revision, r.status.value, r.description) for r in rels] == [
        (1, "superseded", "Install complete"), (2, "superseded", "Upgrade complete"),
        (3, "deployed", "Rollback to 1")]
    assert [detect_operation(r) for r in rels] == [Operation.INSTALL, Operation.UPGRADE, Operation.ROLLBACK]
    first, _, last = rels
    assert (last.chart_name, last.chart_version, last.app_version) == ("tiny", "0.3.0", "2.0")
    assert last.first_deployed == first.first_deployed and last.last_deployed > first.last_deployed
    assert last.labels == {"team": "payments"}
    # helm rewrites the labels on every update: modifiedAt replaces createdAt
    assert last.secret is not None and last.secret.modified_at is not None and last.secret.created_at is None
    assert last.secret.status == "deployed" and last.secret.revision == 3
    assert [(r["kind"], r["metadata"]["name"], r["metadata"]["namespace"]) for r in last.resources] == [
        ("ConfigMap", "plain-cfg", "default"), ("Service", "plain", "default")]
    assert last.resource_sources == ("tiny/templates/cm.yaml", "tiny/templates/svc.yaml")
    assert last.hooks == () and last.apply_method and last.manifest_problems == ()
    assert latest_revision(secrets, "plain") == 3
    assert pick_release(secrets, 2, name="plain").description == "Upgrade complete"  # type: ignore[union-attr]
    plan = plan_operation(last)
    assert (plan.operation, [p.name for p in plan.phases]) == (Operation.ROLLBACK, ["resources"])


def test_captured_shop_install_failed_upgrade_rollback() -> None:
    secrets = _captured("shop")
    install, failed, rollback = rels = [decode_release_secret(s) for s in secrets]
    assert [(r.revision, r.status, detect_operation(r)) for r in rels] == [
        (1, ReleaseStatus.SUPERSEDED, Operation.INSTALL), (2, ReleaseStatus.FAILED, Operation.UPGRADE),
        (3, ReleaseStatus.DEPLOYED, Operation.ROLLBACK)]
    assert install.description == "Install complete" and rollback.description == "Rollback to 1"
    assert failed.description.startswith('Upgrade "shop" failed: pre-upgrade hooks failed: resource '
                                         "Job/shop/shop-migrate not ready. status: Failed")
    assert (install.chart_name, install.chart_version, install.namespace) == ("shop", "1.0.0", "shop")
    assert all(r.first_deployed == install.first_deployed for r in rels)
    assert install.last_deployed < failed.last_deployed < rollback.last_deployed  # type: ignore[operator]
    # every revision stores every hook of the chart; weight 0 is omitted by helm and decodes to 0
    hooks = {(h.kind, h.name): h for h in install.hooks}
    assert {k: (h.events, h.weight, h.delete_policies, h.path) for k, h in hooks.items()} == {
        ("PersistentVolumeClaim", "shop-backup"): (("pre-upgrade",), 0, ("before-hook-creation",),
                                                   "shop/templates/backup.yaml"),
        ("Job", "shop-backup"): (("pre-upgrade",), 1, ("before-hook-creation",),
                                 "shop/templates/backup.yaml"),
        ("Job", "shop-migrate"): (("pre-install", "pre-upgrade"), 5, ("before-hook-creation",),
                                  "shop/templates/migrate-job.yaml"),
        ("Job", "shop-restore"): (("pre-rollback",), 0, ("before-hook-creation",),
                                  "shop/templates/restore.yaml"),
    }
    assert all(h.namespace == "shop" and h.output_log_policies == () for h in install.hooks)

    plan = plan_operation(install)
    assert (plan.operation, plan.revision, plan.namespace) == (Operation.INSTALL, 1, "shop")
    assert [p.name for p in plan.phases] == ["pre-install hooks", "resources"]   # no post-install hooks
    [migrate] = plan.phases[0].steps
    assert (migrate.subject, migrate.api_version, migrate.namespace, migrate.weight, migrate.wait) == (
        "Job/shop-migrate", "batch/v1", "shop", 5, True)
    assert migrate.source == "shop/templates/migrate-job.yaml" and not migrate.deleted_on_success
    assert migrate.hook is not None and migrate.hook.last_run.phase is HookPhase.SUCCEEDED
    _ran_in_order([migrate.hook], install.last_deployed)
    assert [(s.subject, s.wait, s.source) for s in plan.phases[1].steps] == [
        ("ConfigMap/shop-config", False, "shop/templates/configmap.yaml"),
        ("Service/shop-web", False, "shop/templates/service.yaml"),
        ("Deployment/shop-web", True, "shop/templates/deployment.yaml")]

    plan = plan_operation(failed)
    assert [p.name for p in plan.phases] == ["pre-upgrade hooks", "resources"]
    pre = plan.phases[0]
    assert [(s.subject, s.weight, s.wait) for s in pre.steps] == [
        ("PersistentVolumeClaim/shop-backup", 0, False), ("Job/shop-backup", 1, True),
        ("Job/shop-migrate", 5, True)]
    assert [s.subject for s in pre.waited] == ["Job/shop-backup", "Job/shop-migrate"]
    ran = [s.hook for s in pre.steps if s.hook]
    assert [h.last_run.phase for h in ran] == [HookPhase.SUCCEEDED, HookPhase.SUCCEEDED, HookPhase.FAILED]
    _ran_in_order(ran, failed.last_deployed)
    [restore] = failed.hooks_for("pre-rollback")
    assert restore.last_run == HookRun()                  # helm wrote phase "" for a hook that never ran

    plan = plan_operation(rollback)
    assert [p.name for p in plan.phases] == ["pre-rollback hooks", "resources"]
    [step] = plan.phases[0].steps
    assert (step.subject, step.wait, step.hook.last_run.phase) == (  # type: ignore[union-attr]
        "Job/shop-restore", True, HookPhase.SUCCEEDED)
    _ran_in_order([step.hook], rollback.last_deployed)   # type: ignore[list-item]
    # a rollback copies the target's hooks, last runs included: the migration's run is revision 1's
    [old_migrate] = rollback.hooks_for("pre-install")
    assert old_migrate.last_run == migrate.hook.last_run
    assert old_migrate.last_run.completed_at < rollback.last_deployed  # type: ignore[operator]
    assert plan_operation(rollback, no_hooks=True).phases == (plan.phases[1],)
    assert latest_revision(secrets, "shop") == 3
    assert pick_release(secrets, name="shop") == rollback


def test_captured_shop_upgrade_runs_backup_then_migration() -> None:
    [rel] = [decode_release_secret(s) for s in _captured("shop_upgrade")]
    assert (rel.revision, rel.status, rel.description) == (2, ReleaseStatus.DEPLOYED, "Upgrade complete")
    web = next(r for r in rel.resources if r["kind"] == "Deployment")
    [container] = web["spec"]["template"]["spec"]["containers"]
    assert container["image"] == "ghcr.io/helmbot-example/shop-web:1.1.0"
    assert web["metadata"]["namespace"] == "shop-upgrade"
    plan = plan_operation(rel)
    assert (plan.operation, [p.name for p in plan.phases]) == (
        Operation.UPGRADE, ["pre-upgrade hooks", "resources"])
    hooks = [s.hook for s in plan.phases[0].steps if s.hook]
    assert [(h.kind, h.name, h.last_run.phase) for h in hooks] == [
        ("PersistentVolumeClaim", "shop-backup", HookPhase.SUCCEEDED),
        ("Job", "shop-backup", HookPhase.SUCCEEDED), ("Job", "shop-migrate", HookPhase.SUCCEEDED)]
    _ran_in_order(hooks, rel.last_deployed)
    pvc = hooks[0].manifest
    assert pvc["spec"]["resources"]["requests"]["storage"] == "1Gi"
    assert pvc["metadata"]["namespace"] == "shop-upgrade"


def test_captured_fixtures_hold_no_secrets_and_values_are_not_carried() -> None:
    for name in ("plain", "shop", "shop_upgrade"):
        for s in _captured(name):
            raw = _raw(s)
            rel = decode_release_secret(s)
            assert set(raw.get("config") or {}) <= {"image", "web", "migration"}
            kinds = {o["kind"] for o in rel.resources} | {h.kind for h in rel.hooks}
            assert "Secret" not in kinds and rel.manifest_problems == ()
            assert raw["chart"]["values"] and not hasattr(rel, "config") and not hasattr(rel, "values")


def test_captured_payload_is_helm_base64_of_gzip() -> None:
    [s, *_] = _captured("plain")
    helm_text = base64.b64decode(s["data"]["release"])
    assert helm_text.startswith(b"H4sI")                        # base64 of the gzip magic
    assert base64.b64decode(helm_text)[:3] == b"\x1f\x8b\x08"
    assert decode_release_payload(helm_text.decode()).name == "plain"

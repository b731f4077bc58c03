from __future__ import annotations

import base64
import gzip
import json
import subprocess
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
import yaml

from bot.core.releases import (
    HookPhase,
    ReleaseDecodeError,
    ReleaseStatus,
    decode_release_json,
    decode_release_payload,
    decode_release_secret,
    encode_release_payload,
    latest_revision,
    load_yaml,
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


def test_real_helm_manifest_parses_like_pyyaml(helm_dry_run_json: dict) -> None:
    ref = [o for o in yaml.safe_load_all(helm_dry_run_json["manifest"]) if o]
    mine = [o for _, o in parse_manifest(helm_dry_run_json["manifest"])]
    assert mine == ref
    for h in helm_dry_run_json["hooks"]:
        assert load_yaml(h["manifest"]) == yaml.safe_load(h["manifest"])


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


def test_unparseable_yaml_falls_back_to_identity() -> None:
    manifest = ("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: tagged\n  namespace: x\n"
                "data:\n  a: !vault aGVsbG8=\n")
    [(src, obj)] = parse_manifest(manifest, "ns")
    assert obj == {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "tagged", "namespace": "x"}}
    assert src == ""


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


YAML_CASES = [
    "a: 1\nb: two\nc: 'it''s'\nd: \"x\\ty\\u00e9\"\ne: ~\nf: true\ng: 1.5\nh: '010'\ni: 0x1F\n",
    "list:\n- a\n- b: 1\n  c: 2\n-   - nested\n    - deeper\n- \n  k: v\n",
    "m:\n  - name: x\n    ports: [80, 443]\n    env: {A: \"1\", B: b}\n  - {name: y}\n",
    "s: |\n  line1\n    indented\n  line3\n\nt: >\n  folded\n  text\n\n  para\n",
    "u: |-\n  strip\nv: >-\n  x\n  y\nw: >\n  a\n    more\n  b\n",
    "w: |+\n  keep\n\nz: 1\n",
    "key with spaces: value # comment\nurl: http://x:80/path#frag\n\"quoted: key\": 1\nempty:\n",
    "long: this is\n  a folded plain\n  scalar\nnext: ok\n",
    "cmd: [\"sh\", \"-c\",\n  \"echo hi\"]\nq: \"multi\n  line\"\n",
    "annotations:\n  \"helm.sh/hook\": pre-install\n  helm.sh/hook-weight: \"-5\"\nn: -5\nneg: -0.5\n",
    "a:\n  b:\n    c:\n    - 1\n    - 2\n  d: {}\n  e: []\n",
    "base: &b\n  x: 1\nuse: *b\nmerged:\n  <<: *b\n  y: 2\nl:\n- &i item\n- *i\n",
]


@pytest.mark.parametrize("text", YAML_CASES)
def test_yaml_loader_matches_pyyaml(text: str) -> None:
    assert load_yaml(text) == yaml.safe_load(text)


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


def test_captured_install_upgrade_rollback() -> None:
    secrets = _captured("plain")
    rels = [decode_release_secret(s) for s in secrets]
    assert [(r.revision, r.status.value, r.description) for r in rels] == [
        (1, "superseded", "Install complete"), (2, "superseded", "Upgrade complete"),
        (3, "deployed", "Rollback to 1")]
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
    assert last.hooks == ()
    assert latest_revision(secrets, "plain") == 3
    assert pick_release(secrets, 2, name="plain").description == "Upgrade complete"  # type: ignore[union-attr]
    assert all("hunter2" not in repr(r) for r in rels)


def test_captured_failed_releases_with_hooks() -> None:
    rels = [decode_release_secret(s) for s in _captured("shop")]
    assert [(r.revision, r.status.value) for r in rels] == [
        (1, "failed"), (2, "failed"), (3, "pending-rollback")]
    assert rels[0].description.startswith('Release "shop" failed: failed pre-install: ')
    assert rels[1].description.startswith('Upgrade "shop" failed: pre-upgrade hooks failed: ')
    hooks = {h.name: h for h in rels[0].hooks}
    pre, post = hooks["shop-pre"], hooks["shop-post"]
    assert (pre.kind, pre.weight) == ("ConfigMap", -5)
    assert pre.events == ("pre-install", "pre-upgrade", "pre-rollback")
    # helm stored the default it applied while running the hook
    assert pre.delete_policies == ("before-hook-creation",)
    assert (post.kind, post.weight, post.delete_policies) == ("Secret", 10, ("before-hook-creation",
                                                                             "hook-succeeded"))
    assert post.manifest["stringData"] == {"x": "y"}
    assert pre.manifest["data"]["revision"] == "1"


def test_captured_payload_is_helm_base64_of_gzip() -> None:
    [s, *_] = _captured("plain")
    helm_text = base64.b64decode(s["data"]["release"])
    assert helm_text.startswith(b"H4sI")                        # base64 of the gzip magic
    assert base64.b64decode(helm_text)[:3] == b"\x1f\x8b\x08"
    assert decode_release_payload(helm_text.decode()).name == "plain"


def test_yaml_loader_agrees_with_pyyaml_on_generated_documents() -> None:
    """Seeded differential test: random nested values dumped by PyYAML in every style it has."""
    import random

    rnd = random.Random(20250102)
    alphabet = "abcXYZ019 -_:#'\"\\/,.{}[]&*!|>%@`?\n\ttrue"
    specials = ["true", "no", "null", "~", "1.10", "010", "0x1F", "-5", "-09", "yes", "on", ".inf", "",
                " lead", "trail ", "a: b", "- x", "#c", "x #c"]

    def text() -> str:
        if rnd.random() < 0.3:
            return rnd.choice(specials)
        return "".join(rnd.choice(alphabet) for _ in range(rnd.randint(0, 30)))

    def value(depth: int = 0) -> object:
        k = rnd.random()
        if depth > 3 or k < 0.5:
            return rnd.choice([text(), text(), rnd.randint(-1000, 10**6), rnd.random() * 100, True, None])
        if k < 0.75:
            return {text().replace("\n", "") or "k": value(depth + 1) for _ in range(rnd.randint(0, 4))}
        return [value(depth + 1) for _ in range(rnd.randint(0, 4))]

    for _ in range(400):
        doc = yaml.safe_dump({"kind": "ConfigMap", "data": value()}, sort_keys=False, allow_unicode=True,
                             default_flow_style=rnd.choice([False, None]), width=rnd.choice([20, 80, 1000]),
                             indent=rnd.choice([2, 4]),
                             default_style=rnd.choice([None, None, None, '"', "'", "|", ">"]))
        assert load_yaml(doc) == yaml.safe_load(doc), doc

"""The chart's pod, run as a process: the config file, environment and probes the chart renders are the ones
`helmbot run` reads and serves, and the SQLite database lands in the volume the chart mounts.

The Deployment's container is played out here as a kubelet would: its env (values, the downward API, the
Secret's keys), its config file from the ConfigMap, its probes against its container port. Paths the pod
would have (/home/helmbot, the data volume) are directories of the test.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import yaml

from tests.bot.support import ALICE, BotLauncher, free_port, parents, release, text_of, wait_for
from tests.chart.support import render

POD_NAME = "hb-helmbot-7d9f8c6b5-x2x7q"


def _pod_env(container: dict[str, Any], secret: dict[str, str], home: Path) -> dict[str, str]:
    """The container's environment as the kubelet resolves it (secretKeyRef, fieldRef, values)."""
    env: dict[str, str] = {}
    fields = {"metadata.name": POD_NAME, "metadata.namespace": "bots"}
    for item in container["env"]:
        if "value" in item:
            env[item["name"]] = str(item["value"]).replace("/home/helmbot", str(home))
        elif "secretKeyRef" in item["valueFrom"]:
            ref = item["valueFrom"]["secretKeyRef"]
            if ref["key"] in secret:
                env[item["name"]] = secret[ref["key"]]
            else:
                assert ref.get("optional"), f"the Secret lacks {ref['key']}"
        else:
            env[item["name"]] = fields[item["valueFrom"]["fieldRef"]["fieldPath"]]
    return env


def _get(url: str) -> tuple[int, dict[str, Any]]:
    try:
        with urllib.request.urlopen(url, timeout=5) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")


def test_the_charts_pod_runs_serves_its_probes_and_keeps_state_on_its_volume(
        bots: BotLauncher, namespace: str, tmp_path: Path) -> None:
    data = tmp_path / "volume"
    data.mkdir()
    test_config = bots.config([release(namespace)])
    values = {
        "auth": {"existingSecret": "slack-credentials"},
        "config": {
            "slack": {"api_url": bots.slack.api_url, "port": free_port(), "host": "127.0.0.1"},
            "helm": {"binary": test_config["helm"]["binary"]},
            "state": {"url": f"sqlite:///{data}/helmbot.db"},
            "clusters": {"default": {"kubeconfig": str(bots.kubeconfig)}},
            "defaults": test_config["defaults"],
            "releases": test_config["releases"],
        },
    }
    values_file = tmp_path / "values.yaml"
    values_file.write_text(yaml.safe_dump(values))
    out = render([values_file])
    container = out.container
    mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
    assert mounts["data"] == str(data), "the chart mounts the volume where the absolute URL points"
    assert container["command"] == ["helmbot"]
    assert container["args"] == ["run", "--config", "/etc/helmbot/config.yaml"]

    secret = {"SLACK_BOT_TOKEN": bots.slack.bot_token, "SLACK_SIGNING_SECRET": bots.slack.signing_secret}
    env = _pod_env(container, secret, tmp_path / "home")
    assert env["POD_NAME"] == POD_NAME and "HELMBOT_STATE_PASSWORD" not in env
    bot = bots.start(out.config, name="pod", env=env)

    port = {p["name"]: p["containerPort"] for p in container["ports"]}
    for probe in ("livenessProbe", "readinessProbe"):
        get = container[probe]["httpGet"]
        url = f"http://127.0.0.1:{port[get['port']]}{get['path']}"
        wait_for(lambda u=url: _get(u)[0] == 200, f"the {probe} to pass", bot)
    assert _get(f"http://127.0.0.1:{port['http']}/readyz")[1]["checks"]["store"] == "ok"

    status, body = bot.command(ALICE, "/deploy", "shop migration.durationSeconds=0.5")
    assert status == 200 and "started" in body, body
    wait_for(lambda: any(text_of(p).startswith("✅") for p in parents(bots.slack)), "the verdict", bot,
             timeout=90)
    assert (data / "helmbot.db").stat().st_size > 0, "the deploy record is in the mounted volume"

"""Benchmark the Slack side of `helmbot run` (a script, not a test).

    .venv/bin/python benchmarks/bench_slack.py [--json out.json] [--concurrency 50] [--releases 10]

It starts the Kubernetes stand-in, the Slack stand-in and the bot as a process (`python -m bot run`, HTTP
mode, the real helm), then reports:
- ack latency: `--concurrency` slash commands sent at once as Slack sends them (signed HTTP POSTs from the
  Slack stand-in's actor), half `/deploy` (spread over `--releases` releases: one accepted per release, the
  others refused naming the lock's holder) and half `/helmbot status`; p50/p90/p99/max of the time until the
  HTTP answer (Slack gives up after 3 s), and how many answered later through the response_url;
- Slack Web API calls per deploy, from the stand-in's call log per channel: new messages (chat.postMessage
  without thread_ts), updates of the parent (chat.update), thread replies (chat.postMessage with thread_ts,
  broadcasts counted too) and file uploads, for a healthy and a failing deploy (failing migration hook).
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from contextlib import closing
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.sim.binaries import ensure_binaries  # noqa: E402
from bot.sim.cluster import Cluster  # noqa: E402
from bot.sim.slack import SlackStandIn  # noqa: E402

SHOP = str(ROOT / "bot" / "sim" / "charts" / "shop")
USERS = ("U0ALICE", "U0BOB")
FAST = [
    "migration.durationSeconds=0.5",
    "backup.durationSeconds=0.2",
    "restore.durationSeconds=0.3",
    "web.replicas=2",
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait(fn: Callable[[], Any], what: str, timeout: float = 120) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = fn()
        if result:
            return result
        time.sleep(0.1)
    raise RuntimeError(f"timed out waiting for {what}")


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered)) - 1))]


class Bench:
    def __init__(self, releases: int) -> None:
        self.home = Path(tempfile.mkdtemp(prefix="helmbot-bench-slack-"))
        self.cluster = Cluster(port=0, pod_grace_seconds=0.5).start()
        self.kubeconfig = self.cluster.write_kubeconfig(self.home / "kubeconfig")
        self.slack = SlackStandIn().start()
        for user in USERS:
            self.slack.add_user(user, user.lower())
        self.names = [f"r{i}" for i in range(releases)] + ["healthy", "failing"]
        for name in self.names:
            self.cluster.store.create("/namespaces", {"metadata": {"name": f"bench-{name}"}})
            self.slack.add_channel(self.channel(name), name, members=USERS)
        self.port = free_port()
        self.state = self.home / "helmbot.db"
        self.proc: subprocess.Popen[str] | None = None

    @staticmethod
    def channel(name: str) -> str:
        return f"C0{name.upper()}"

    def start_bot(self) -> None:
        config = {
            "slack": {"mode": "http", "api_url": self.slack.api_url, "port": self.port, "host": "127.0.0.1"},
            "helm": {"binary": str(ensure_binaries().helm)},
            "state": {"url": f"sqlite:///{self.state}"},
            "clusters": {"default": {"kubeconfig": str(self.kubeconfig)}},
            "defaults": {
                "helm_timeout": "2m",
                "track_timeout": "3m",
                "poll_interval": "1s",
                "config_error_grace": "3s",
            },
            "releases": [
                {
                    "name": "shop",
                    "environment": name,
                    "namespace": f"bench-{name}",
                    "chart": SHOP,
                    "channel": self.channel(name),
                    "allowed_values": ["web.*", "migration.*", "backup.*", "restore.*"],
                    "deployers": list(USERS),
                }
                for name in self.names
            ],
        }
        path = self.home / "helmbot.yaml"
        path.write_text(yaml.safe_dump(config))
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(self.home),
            "SLACK_BOT_TOKEN": self.slack.bot_token,
            "SLACK_SIGNING_SECRET": self.slack.signing_secret,
            "HELM_CACHE_HOME": str(self.home / "hc"),
            "HELM_CONFIG_HOME": str(self.home / "hcfg"),
            "HELM_DATA_HOME": str(self.home / "hd"),
        }
        log = (self.home / "bot.log").open("w")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "bot", "run", "--config", str(path)],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            text=True,
        )

        def listening() -> bool:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return True
            except OSError:
                return False

        wait(listening, "the bot to listen", 60)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/slack/events"

    def outbox_depth(self) -> int:
        with closing(sqlite3.connect(f"file:{self.state}?mode=ro", uri=True)) as db:
            return int(
                db.execute(
                    "SELECT count(*) FROM outbox WHERE status != 'sent' AND status != 'failed'"
                ).fetchone()[0]
            )

    def active(self) -> int:
        with closing(sqlite3.connect(f"file:{self.state}?mode=ro", uri=True)) as db:
            return int(
                db.execute("SELECT count(*) FROM deploys WHERE status IN ('pending', 'running')").fetchone()[
                    0
                ]
            )

    # -- ack latency ----------------------------------------------------------------------------------------

    def acks(self, concurrency: int) -> dict[str, Any]:
        requests = []
        for i in range(concurrency):
            name = self.names[(i // 2) % (len(self.names) - 2)]
            if i % 2 == 0:
                requests.append(("/deploy", f"shop {name} " + " ".join(FAST), name))
            else:
                requests.append(("/helmbot", f"status shop {name}", name))
        results: list[dict[str, Any]] = [{} for _ in requests]
        barrier = threading.Barrier(len(requests))

        def send(index: int) -> None:
            command, text, name = requests[index]
            barrier.wait()
            started = time.perf_counter()
            status, body = self.slack.slash_command(
                self.url, USERS[index % 2], self.channel(name), command, text
            )
            results[index] = {
                "command": command,
                "status": status,
                "seconds": time.perf_counter() - started,
                "late": "working on it" in body,
                "accepted": "started" in body,
                "refused_lock": command == "/deploy" and "in progress by" in body,
                "body": body[:300],
            }

        threads = [threading.Thread(target=send, args=(i,)) for i in range(len(requests))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        seconds = [r["seconds"] for r in results]
        if os.environ.get("BENCH_DEBUG"):
            for r in results:
                print(r["command"], r["status"], round(r["seconds"], 2), r["body"][:200])
        out = {
            "concurrency": concurrency,
            "p50_ms": round(percentile(seconds, 50) * 1000, 1),
            "p90_ms": round(percentile(seconds, 90) * 1000, 1),
            "p99_ms": round(percentile(seconds, 99) * 1000, 1),
            "max_ms": round(max(seconds) * 1000, 1),
            "over_3s": sum(1 for s in seconds if s >= 3.0),
            "non_200": sum(1 for r in results if r["status"] != 200),
            "answered_later": sum(1 for r in results if r["late"]),
            "deploys_started": sum(1 for r in results if r["accepted"]),
            "deploys_refused_lock": sum(1 for r in results if r["refused_lock"]),
        }
        for command in ("/deploy", "/helmbot"):
            mine = [r["seconds"] for r in results if r["command"] == command]
            out[f"{command.strip('/')}_p50_ms"] = round(percentile(mine, 50) * 1000, 1)
            out[f"{command.strip('/')}_p99_ms"] = round(percentile(mine, 99) * 1000, 1)
        wait(lambda: self.active() == 0 and self.outbox_depth() == 0, "the concurrent deploys to finish", 300)
        return out

    # -- Slack calls per deploy -----------------------------------------------------------------------------

    def calls_per_deploy(self, name: str, values: list[str]) -> dict[str, Any]:
        channel = self.channel(name)
        started = time.monotonic()
        _, body = self.slack.slash_command(
            self.url, USERS[0], channel, "/deploy", f"shop {name} " + " ".join(values)
        )
        if "started" not in body:
            raise RuntimeError(f"/deploy not started: {body}")
        wait(lambda: self.active() == 0 and self.outbox_depth() == 0, f"the {name} deploy to finish", 180)
        calls = [
            c
            for c in self.slack.calls
            if c.args.get("channel") == channel or c.args.get("channel_id") == channel
        ]
        posts = [c for c in calls if c.method == "chat.postMessage"]
        parents = [
            m
            for m in self.slack.messages(channel, include_replies=False)
            if not m.get("thread_ts") or m.get("thread_ts") == m.get("ts")
        ]
        verdict = "unknown"
        if parents:
            text = json.dumps(parents[0].get("blocks"))
            verdict = "succeeded" if "Succeeded" in text else "failed" if "Failed" in text else "unknown"
        return {
            "deploy": name,
            "verdict": verdict,
            "seconds": round(time.monotonic() - started, 1),
            "new_messages": sum(1 for c in posts if not c.args.get("thread_ts")),
            "parent_updates": sum(1 for c in calls if c.method == "chat.update"),
            "thread_replies": sum(1 for c in posts if c.args.get("thread_ts")),
            "broadcasts": sum(1 for c in posts if str(c.args.get("reply_broadcast")).lower() == "true"),
            "file_uploads": sum(1 for c in calls if c.method == "files.completeUploadExternal"),
            "total_calls": len(calls),
        }

    def close(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        self.slack.stop()
        self.cluster.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", type=Path)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--releases", type=int, default=10)
    args = parser.parse_args()
    bench = Bench(args.releases)
    try:
        bench.start_bot()
        healthy = bench.calls_per_deploy("healthy", FAST)
        failing = bench.calls_per_deploy("failing", [*FAST, "migration.fail=true"])
        acks = bench.acks(args.concurrency)
    finally:
        bench.close()
    print(
        f"ack latency, {acks['concurrency']} concurrent commands "
        f"(half /deploy over {args.releases} releases, half /helmbot status), signed HTTP:"
    )
    print(
        f"  p50 {acks['p50_ms']} ms · p90 {acks['p90_ms']} ms · p99 {acks['p99_ms']} ms"
        f" · max {acks['max_ms']} ms · ≥3 s: {acks['over_3s']} · non-200: {acks['non_200']}"
        f" · answered later: {acks['answered_later']}"
    )
    print(
        f"  /deploy p50 {acks['deploy_p50_ms']} ms, p99 {acks['deploy_p99_ms']} ms "
        f"({acks['deploys_started']} started, {acks['deploys_refused_lock']} refused: lock held); "
        f"/helmbot status p50 {acks['helmbot_p50_ms']} ms, p99 {acks['helmbot_p99_ms']} ms"
    )
    print("Slack calls per deploy:")
    print(
        f"  {'deploy':<24}{'verdict':<11}{'new msgs':>9}{'updates':>9}{'replies':>9}{'bcast':>7}"
        f"{'files':>7}{'total':>7}{'took':>8}"
    )
    for row, label in ((healthy, "healthy (install)"), (failing, "failing migration hook")):
        print(
            f"  {label:<24}{row['verdict']:<11}{row['new_messages']:>9}{row['parent_updates']:>9}"
            f"{row['thread_replies']:>9}{row['broadcasts']:>7}{row['file_uploads']:>7}{row['total_calls']:>7}"
            f"{row['seconds']:>7}s"
        )
    if args.json:
        args.json.write_text(json.dumps({"acks": acks, "calls": [healthy, failing]}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

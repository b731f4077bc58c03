"""Reading the cluster for the demo's side panel: which API to ask (a URL or a kubeconfig), one snapshot
(five list calls), and a poller that asks once a second while someone is watching.

Polling keeps this small and robust against the stand-in's restarts and injected watch faults; five lists a
second on loopback is light. Helm's release Secrets are listed as a Table (metadata only), so release
payloads and values never travel.
"""

from __future__ import annotations

import base64
import json
import ssl
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from bot.demo.errors import DemoError
from bot.demo.kube_view import cluster_snapshot

LISTS = {
    "deployments": "/apis/apps/v1/deployments",
    "replicasets": "/apis/apps/v1/replicasets",
    "pods": "/api/v1/pods",
    "jobs": "/apis/batch/v1/jobs",
}
HELM_SECRETS = "/api/v1/secrets?labelSelector=owner%3Dhelm"
TABLE = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"


@dataclass(frozen=True)
class KubeTarget:
    """Where the API is and how to authenticate (a bearer token; client certificates are not supported)."""

    server: str
    token: str | None = None
    ca_data: bytes | None = None
    insecure: bool = False

    def __repr__(self) -> str:  # never the token
        return f"KubeTarget({self.server!r})"

    @classmethod
    def from_arg(cls, kube_api: str | Path) -> KubeTarget:
        """An `http(s)://` URL, or the path of a kubeconfig (its current context)."""
        text = str(kube_api)
        if text.startswith(("http://", "https://")):
            return cls(text.rstrip("/"))
        return cls.from_kubeconfig(Path(text))

    @classmethod
    def from_kubeconfig(cls, path: Path) -> KubeTarget:
        try:
            doc = yaml.safe_load(path.read_text())
        except (OSError, yaml.YAMLError) as exc:
            raise DemoError(f"cannot read the kubeconfig {path}: {type(exc).__name__}") from None
        if not isinstance(doc, dict):
            raise DemoError(f"the kubeconfig {path} is not a YAML mapping")

        def named(section: str, name: str | None) -> dict[str, Any]:
            for item in doc.get(section) or []:
                if isinstance(item, dict) and item.get("name") == name:
                    return item.get(section[:-1]) or {}
            raise DemoError(f"the kubeconfig {path} has no {section[:-1]} named {name!r}")

        context = named("contexts", doc.get("current-context"))
        cluster = named("clusters", context.get("cluster"))
        user = named("users", context.get("user")) if context.get("user") else {}
        server = str(cluster.get("server") or "")
        if not server.startswith(("http://", "https://")):
            raise DemoError(f"the kubeconfig {path} names no http(s) server for its current context")
        ca: bytes | None = None
        if cluster.get("certificate-authority-data"):
            ca = base64.b64decode(cluster["certificate-authority-data"])
        elif cluster.get("certificate-authority"):
            ca = (path.parent / str(cluster["certificate-authority"])).read_bytes()
        token = user.get("token")
        if not token and user.get("tokenFile"):
            token = Path(user["tokenFile"]).read_text().strip()
        return cls(
            server.rstrip("/"),
            token=token or None,
            ca_data=ca,
            insecure=bool(cluster.get("insecure-skip-tls-verify")),
        )

    def get_json(self, path: str, *, accept: str = "application/json", timeout: float = 5.0) -> Any:
        headers = {"Accept": accept}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        request = urllib.request.Request(self.server + path, headers=headers)
        context = None
        if self.server.startswith("https://"):
            context = ssl.create_default_context(cadata=self.ca_data.decode() if self.ca_data else None)
            if self.insecure:
                context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
        with urllib.request.urlopen(request, timeout=timeout, context=context) as resp:
            return json.loads(resp.read())


def _secret_metadata(answer: dict[str, Any]) -> list[dict[str, Any]]:
    """Secrets reduced to their metadata, from a Table (rows' objects) or a plain list."""
    if answer.get("kind") == "Table":
        return [
            {"metadata": (row.get("object") or {}).get("metadata") or {}} for row in answer.get("rows") or []
        ]
    return [{"metadata": item.get("metadata") or {}} for item in answer.get("items") or []]


def read_cluster(target: KubeTarget, *, timeout: float = 5.0) -> dict[str, Any]:
    """One snapshot: {"api", "namespaces", "error"}; a failure is reported in "error", never raised."""
    try:
        lists = {
            kind: target.get_json(path, timeout=timeout).get("items") or [] for kind, path in LISTS.items()
        }
        secrets = _secret_metadata(target.get_json(HELM_SECRETS, accept=TABLE, timeout=timeout))
    except urllib.error.HTTPError as exc:
        return {"api": target.server, "namespaces": [], "error": f"the API answered HTTP {exc.code}"}
    except (OSError, ValueError) as exc:
        reason = getattr(exc, "reason", None) or type(exc).__name__
        return {"api": target.server, "namespaces": [], "error": f"cannot reach the API: {reason}"}
    return {"api": target.server, "namespaces": cluster_snapshot(lists, secrets), "error": None}


class ClusterPoller:
    """Reads the cluster every `interval` seconds while `wanted()` says someone is watching, and calls
    `on_change(snapshot)` when what it shows changed."""

    def __init__(
        self,
        target: KubeTarget,
        on_change: Callable[[dict[str, Any]], None],
        *,
        interval: float = 1.0,
        wanted: Callable[[], bool] = lambda: True,
    ) -> None:
        self.target, self.on_change, self.interval, self.wanted = target, on_change, interval, wanted
        self._lock = threading.Lock()
        self._latest: dict[str, Any] | None = None
        self._read_at = 0.0
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="demo-cluster-poller", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def wake(self) -> None:
        """Read again now (someone started watching)."""
        self._wake.set()

    def snapshot(self, max_age: float | None = None) -> dict[str, Any]:
        """The latest snapshot, read afresh when older than `max_age` (default: the interval)."""
        max_age = self.interval if max_age is None else max_age
        with self._lock:
            latest, read_at = self._latest, self._read_at
        if latest is None or time.monotonic() - read_at > max_age:
            return self.refresh()
        return latest

    def refresh(self) -> dict[str, Any]:
        snap = read_cluster(self.target)
        with self._lock:
            changed = snap != self._latest
            self._latest, self._read_at = snap, time.monotonic()
        if changed:
            self.on_change(snap)
        return snap

    def _run(self) -> None:
        while not self._stop.is_set():
            if self.wanted():
                self.refresh()
            self._wake.wait(self.interval)
            self._wake.clear()

"""`Cluster`: the store, the HTTP server, faults and (when present) the controllers, started together."""

from __future__ import annotations

import importlib
import json
import threading
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml

from bot.sim.faults import FaultRule, Faults
from bot.sim.requestlog import DEFAULT_USER, RequestLog, token_for
from bot.sim.server import Server
from bot.sim.store import Clock, Store, SystemClock


def _start_controllers(store: Store, clock: Clock) -> Any:
    """`bot.sim.controllers.start_controllers(store, clock)` if that package is there, else None."""
    try:
        module = importlib.import_module("bot.sim.controllers")
    except ImportError:
        return None
    start = getattr(module, "start_controllers", None)
    return start(store, clock) if start is not None else None


class Cluster:
    """A running Kubernetes stand-in. Use as a context manager or call start()/stop()."""

    def __init__(
        self,
        port: int = 0,
        *,
        host: str = "127.0.0.1",
        faults: Iterable[str | dict | FaultRule] = (),
        controllers: bool = True,
        pod_grace_seconds: float = 1.0,
        state_file: str | Path | None = None,
        clock: Clock | None = None,
        history: int = 5000,
    ):
        self.clock: Clock = clock or SystemClock()
        self.store = Store(clock=self.clock, pod_grace_seconds=pod_grace_seconds, history=history)
        self.faults = Faults()
        for rule in faults:
            self.faults.add(rule)
        self.state_file = Path(state_file) if state_file else None
        self._use_controllers = controllers
        self._controllers: Any = None
        self._server = Server(self.store, self.faults, host=host, port=port, admin=self._admin)

    # ---- lifecycle ---------------------------------------------------------------------------------------

    def start(self) -> Cluster:
        if self.state_file and self.state_file.exists():
            self.store.restore(json.loads(self.state_file.read_text()))
        self._server.start()
        if self._use_controllers:
            self._controllers = _start_controllers(self.store, self.clock)
        return self

    def stop(self) -> None:
        if self._controllers is not None:
            self._controllers.stop()
            self._controllers = None
        self._server.stop()
        if self.state_file:
            self.state_file.write_text(json.dumps(self.store.snapshot()))

    def restart(self, *, keep_state: bool = True, downtime: float = 0.0) -> None:
        """Stop the HTTP server (cutting every connection), optionally lose all objects, start again."""
        self._server.stop()
        if not keep_state:
            self.store.reset()
        if downtime:
            time.sleep(downtime)
        self._server.start()

    def __enter__(self) -> Cluster:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        return self._server.url

    @property
    def port(self) -> int:
        return self._server.port

    @property
    def active_watches(self) -> int:
        """Watch streams open right now."""
        return self._server.active_watches

    @property
    def requests(self) -> RequestLog:
        """Every API request, to whoever listens (`requests.recording(user=...)`): bot/sim/requestlog.py."""
        return self._server.requests

    @property
    def controllers(self) -> Any:
        return self._controllers

    # ---- kubeconfig --------------------------------------------------------------------------------------

    def kubeconfig(self, namespace: str = "default", user: str = DEFAULT_USER) -> dict:
        """A kubeconfig for this stand-in. Its token names `user` (e.g. a ServiceAccount's
        `system:serviceaccount:NS:NAME`), which the request log records; nothing is refused either way."""
        credentials = {"token": token_for(user)}
        if user != DEFAULT_USER:
            credentials["as"] = user   # what helm and kubectl send over plain HTTP (bot/sim/requestlog.py)
        return {
            "apiVersion": "v1",
            "kind": "Config",
            "current-context": "helmbot-sim",
            "clusters": [{"name": "helmbot-sim", "cluster": {"server": self.url}}],
            "users": [{"name": "helmbot-sim", "user": credentials}],
            "contexts": [
                {
                    "name": "helmbot-sim",
                    "context": {"cluster": "helmbot-sim", "user": "helmbot-sim", "namespace": namespace},
                }
            ],
        }

    def write_kubeconfig(
        self, path: str | Path, namespace: str = "default", user: str = DEFAULT_USER
    ) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(yaml.safe_dump(self.kubeconfig(namespace, user), sort_keys=False))
        path.chmod(0o600)
        return path

    # ---- admin endpoint (/_sim/...) ----------------------------------------------------------------------

    def _admin(self, method: str, path: str, body: dict) -> Any:
        if path == "/_sim/faults":
            if method == "GET":
                return {"faults": self.faults.rules()}
            if method == "POST":
                rules = body.get("faults", [body]) if isinstance(body, dict) else body
                for rule in rules:
                    self.faults.add(rule)
                return {"faults": self.faults.rules()}
            if method == "DELETE":
                self.faults.clear()
                return {"faults": []}
        if path == "/_sim/restart" and method == "POST":
            keep, downtime = bool(body.get("keep_state", True)), float(body.get("downtime", 0.0))
            # Restart after this response went out: the server cannot stop from inside its own request.
            threading.Timer(0.1, self.restart, kwargs={"keep_state": keep, "downtime": downtime}).start()
            return {"restarting": True, "keep_state": keep}
        return None

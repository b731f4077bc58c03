"""/readyz with a fleet: a check named degradable (one cluster of several) fails as "degraded" and keeps the
replica behind its Service; any other failing check makes it not ready."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

from bot.web.server import BotHttpServer, Routes


def _get(port: int) -> tuple[int, dict[str, object]]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=5) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_a_degradable_check_degrades_and_any_other_fails() -> None:
    checks: dict[str, str | None] = {"store": None, "kubernetes:staging": None, "kubernetes:prod": None}
    degradable = {"kubernetes:staging", "kubernetes:prod"}
    srv = BotHttpServer(
        "127.0.0.1", 0, Routes(ready=lambda: dict(checks), degradable=lambda: frozenset(degradable))
    )
    srv.start()
    try:
        assert _get(srv.port) == (200, {"status": "ready", "checks": dict.fromkeys(checks, "ok")})
        checks["kubernetes:prod"] = "cluster prod cannot be reached since 10:00 UTC (connection refused)"
        status, doc = _get(srv.port)
        assert status == 200 and doc["status"] == "degraded"
        assert doc["checks"] == {
            "store": "ok",
            "kubernetes:staging": "ok",
            "kubernetes:prod": checks["kubernetes:prod"],
        }
        checks["store"] = "database is locked"
        assert _get(srv.port)[0] == 503
        checks["store"] = None
        degradable.clear()  # every cluster down: the runtime says none is degradable any more
        status, doc = _get(srv.port)
        assert status == 503 and doc["status"] == "not ready"
    finally:
        srv.stop()

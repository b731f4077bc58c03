"""Does the chart's default RBAC allow every Kubernetes request a running bot made?

The bot under test talks to the stand-in as the chart's ServiceAccount would (`BOT_USER`), and so does the
helm it runs; the stand-in's request log records each request. `denials()` renders the chart with the real
helm for values matching the bot's config (its release namespaces, notice namespaces, SQLite or PostgreSQL
with its Lease) and returns every recorded request that the rendered Roles and bindings (plus Kubernetes'
bootstrap policy) would refuse.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import yaml

from bot.config import parse_config
from bot.sim.requestlog import ApiRequest
from tests.chart.support import NAMESPACE, RELEASE, Rendered, render
from tests.rbac import Authorizer

# The ServiceAccount of `helm install hb chart/ -n bots` (the chart's full name is <release>-helmbot).
BOT_USER = f"system:serviceaccount:{NAMESPACE}:{RELEASE}-helmbot"
SQLITE_URL = "sqlite:////var/lib/helmbot/helmbot.db"
POSTGRES_URL = "postgresql://helmbot@postgres.db.svc:5432/helmbot"


def chart_values(config: dict[str, Any]) -> dict[str, Any]:
    """The chart values that deploy a bot with this config's releases, notices and leader election."""
    parsed = parse_config(yaml.safe_dump(config), source="bot config")
    releases = [{k: v for k, v in r.items() if k != "cluster"} for r in config.get("releases") or []]
    election = parsed.leader_election
    return {
        "auth": {"existingSecret": "slack-credentials"},
        "config": {
            "state": {"url": POSTGRES_URL if parsed.state.kind == "postgresql" else SQLITE_URL},
            "leader_election": {"namespace": election.namespace, "lease_name": election.lease_name},
            "notices": {"enabled": parsed.notices.enabled, "namespaces": list(parsed.notices.namespaces)},
            "releases": releases,
        },
    }


def render_for(config: dict[str, Any], workdir: Path, overrides: dict[str, Any] | None = None) -> Rendered:
    text = yaml.safe_dump({**chart_values(config), **(overrides or {})}, sort_keys=True)
    path = workdir / f"chart-values-{hashlib.sha256(text.encode()).hexdigest()[:12]}.yaml"
    path.write_text(text)
    return render([path])


def denials(configs: Sequence[dict[str, Any]], requests: Iterable[ApiRequest], workdir: Path,
            overrides: dict[str, Any] | None = None) -> list[str]:
    """Each distinct request no chart rendering for these configs allows, as `client: verb resource ...`
    (`overrides`: top-level chart values to set besides those the configs give)."""
    authorizers = [Authorizer.of(render_for(c, workdir, overrides).objects) for c in configs]
    out: dict[str, None] = {}
    for request in requests:
        if not any(a.allows(request.user, request) for a in authorizers):
            out[f"{request.client}: {request.describe()}"] = None
    return list(out)

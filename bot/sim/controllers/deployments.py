"""Deployment controller: ReplicaSets per pod template, paced rolling updates, Recreate, status.

Follows the real controller's arithmetic (maxSurge/maxUnavailable, scale the new RS up to
replicas+surge, scale old RSs down while at least replicas-maxUnavailable pods stay available),
so rollouts take several steps and kstatus sees the same intermediate states as on a real cluster.
"""

from __future__ import annotations

import copy
from datetime import datetime

from bot.sim.controllers.clock import Clock
from bot.sim.controllers.common import (
    by_creation,
    event,
    get_condition,
    int_or_percent,
    is_terminating,
    owned,
    owner_ref,
    parse_ts,
    remove_condition,
    set_condition,
    template_hash,
)
from bot.sim.controllers.guard import Guard
from bot.sim.controllers.options import SimOptions
from bot.sim.store import ApiError, Store

COMPONENT = "deployment-controller"
HASH = "pod-template-hash"
REVISION = "deployment.kubernetes.io/revision"


def _template_without_hash(template: dict) -> dict:
    t = copy.deepcopy(template or {})
    labels = (t.get("metadata") or {}).get("labels")
    if labels and HASH in labels:
        del labels[HASH]
        if not labels:
            del t["metadata"]["labels"]
    return t


def _revision(rs: dict) -> int:
    try:
        return int((rs["metadata"].get("annotations") or {}).get(REVISION, "0"))
    except ValueError:
        return 0


def _spec_replicas(rs: dict) -> int:
    return int((rs.get("spec") or {}).get("replicas", 0))


def _st(rs: dict, key: str) -> int:
    return int((rs.get("status") or {}).get(key, 0))


class DeploymentController:
    def __init__(self, store: Store, clock: Clock, options: SimOptions) -> None:
        self.store, self.clock = store, clock
        self.guard = Guard(COMPONENT, clock, base=options.error_backoff, cap=options.error_backoff_max)

    def tick(self) -> None:
        now = self.clock.now()
        live = [d for d in self.store.list("apps/deployments") if not d["metadata"].get("deletionTimestamp")]
        self.guard.each(live, lambda d: self.sync(d, now))

    # ---- sync -------------------------------------------------------------------------------------------

    def sync(self, d: dict, now: datetime) -> None:
        spec = d.get("spec") or {}
        rss = by_creation(owned(self.store, "apps/replicasets", d))
        template = _template_without_hash(spec.get("template") or {})
        new_rs = next(
            (
                rs
                for rs in rss
                if _template_without_hash((rs.get("spec") or {}).get("template") or {}) == template
            ),
            None,
        )
        olds = [rs for rs in rss if new_rs is None or rs["metadata"]["uid"] != new_rs["metadata"]["uid"]]
        replicas = int(spec.get("replicas", 1))
        created_msg: tuple[str, str] | None = None
        if spec.get("paused"):
            if new_rs is not None and _spec_replicas(new_rs) != replicas and not olds:
                new_rs = self._scale(d, new_rs, replicas)
            self._status(d, new_rs, rss, now, None)
            return
        max_rev = max((_revision(rs) for rs in olds), default=0)
        strategy = (spec.get("strategy") or {}).get("type", "RollingUpdate")
        if new_rs is None:
            if strategy == "Recreate" and any(_spec_replicas(rs) or self._pods_of(rs) for rs in olds):
                start = 0
            elif strategy == "Recreate":
                start = replicas
            else:
                surge, _ = self._limits(d)
                start = max(0, min(replicas, replicas + surge - sum(_spec_replicas(rs) for rs in olds)))
            new_rs = self._create_rs(d, template, max_rev + 1, start)
            if new_rs is None:
                self._status(d, None, rss, now, None)
                return
            created_msg = ("NewReplicaSetCreated", f'Created new replica set "{new_rs["metadata"]["name"]}"')
            rss = [*rss, new_rs]
            if start:
                self._scaled_event(d, new_rs, 0, start)
        elif _revision(new_rs) <= max_rev:
            new_rs = self._set_revision(new_rs, max_rev + 1)
            created_msg = ("FoundNewReplicaSet", f'Found new replica set "{new_rs["metadata"]["name"]}"')
        self._annotate(d, _revision(new_rs))
        if strategy == "Recreate":
            new_rs = self._recreate(d, new_rs, olds, replicas)
        else:
            new_rs, olds = self._rolling(d, new_rs, olds, replicas)
        self._cleanup(d, olds)
        rss = [new_rs, *olds]
        self._status(d, new_rs, rss, now, created_msg)

    def _limits(self, d: dict) -> tuple[int, int]:
        spec = d.get("spec") or {}
        replicas = int(spec.get("replicas", 1))
        ru = (spec.get("strategy") or {}).get("rollingUpdate") or {}
        surge = int_or_percent(ru.get("maxSurge", "25%"), replicas, round_up=True)
        unavailable = int_or_percent(ru.get("maxUnavailable", "25%"), replicas, round_up=False)
        if surge == 0 and unavailable == 0:
            unavailable = 1
        return surge, unavailable

    def _rolling(self, d: dict, new_rs: dict, olds: list[dict], replicas: int) -> tuple[dict, list[dict]]:
        surge, max_unavailable = self._limits(d)
        # scale up the new ReplicaSet
        current = _spec_replicas(new_rs) + sum(_spec_replicas(rs) for rs in olds)
        new_count = _spec_replicas(new_rs)
        if new_count > replicas:
            new_count = replicas
        elif current < replicas + surge:
            new_count += min(replicas + surge - current, replicas - new_count)
        if new_count != _spec_replicas(new_rs):
            new_rs = self._scale(d, new_rs, new_count)
        # scale down old ReplicaSets, keeping replicas - maxUnavailable available
        old_total = sum(_spec_replicas(rs) for rs in olds)
        if old_total == 0:
            return new_rs, olds
        all_count = old_total + _spec_replicas(new_rs)
        min_available = replicas - max_unavailable
        new_unavailable = _spec_replicas(new_rs) - _st(new_rs, "availableReplicas")
        budget = all_count - min_available - new_unavailable
        if budget <= 0:
            return new_rs, olds
        out = []
        for rs in olds:  # first remove unhealthy old pods
            unhealthy = _spec_replicas(rs) - _st(rs, "availableReplicas")
            if budget > 0 and unhealthy > 0:
                n = min(budget, unhealthy)
                rs = self._scale(d, rs, _spec_replicas(rs) - n)
                budget -= n
            out.append(rs)
        olds = out
        available = sum(_st(rs, "availableReplicas") for rs in [new_rs, *olds])
        down = min(available - min_available, budget)
        out = []
        for rs in olds:
            if down > 0 and _spec_replicas(rs) > 0:
                n = min(down, _spec_replicas(rs))
                rs = self._scale(d, rs, _spec_replicas(rs) - n)
                down -= n
            out.append(rs)
        return new_rs, out

    def _recreate(self, d: dict, new_rs: dict, olds: list[dict], replicas: int) -> dict:
        for rs in olds:
            if _spec_replicas(rs):
                self._scale(d, rs, 0)
        if any(self._pods_of(rs) for rs in olds):
            return new_rs  # wait until every old pod is gone
        if _spec_replicas(new_rs) != replicas:
            new_rs = self._scale(d, new_rs, replicas)
        return new_rs

    def _pods_of(self, rs: dict) -> list[dict]:
        return owned(self.store, "/pods", rs)

    def _cleanup(self, d: dict, olds: list[dict]) -> None:
        limit = int((d.get("spec") or {}).get("revisionHistoryLimit", 10))
        idle = [
            rs
            for rs in by_creation(olds)
            if _spec_replicas(rs) == 0 and _st(rs, "replicas") == 0 and not self._pods_of(rs)
        ]
        for rs in idle[: max(0, len(idle) - limit)]:
            self.store.delete("apps/replicasets", rs["metadata"].get("namespace"), rs["metadata"]["name"])

    # ---- writes -----------------------------------------------------------------------------------------

    def _create_rs(self, d: dict, template: dict, revision: int, replicas: int) -> dict | None:
        meta, spec = d["metadata"], d.get("spec") or {}
        h = template_hash(template)
        tmpl = copy.deepcopy(template)
        tmpl.setdefault("metadata", {}).setdefault("labels", {})[HASH] = h
        selector = copy.deepcopy(spec.get("selector") or {})
        selector.setdefault("matchLabels", {})[HASH] = h
        surge, _ = self._limits(d)
        rs = {
            "apiVersion": "apps/v1",
            "kind": "ReplicaSet",
            "metadata": {
                "name": f"{meta['name']}-{h}",
                "namespace": meta.get("namespace"),
                "labels": dict(tmpl["metadata"]["labels"]),
                "annotations": {
                    "deployment.kubernetes.io/desired-replicas": str(spec.get("replicas", 1)),
                    "deployment.kubernetes.io/max-replicas": str(int(spec.get("replicas", 1)) + surge),
                    REVISION: str(revision),
                },
                "ownerReferences": [owner_ref(d)],
            },
            "spec": {
                "replicas": replicas,
                "minReadySeconds": int(spec.get("minReadySeconds") or 0),
                "selector": selector,
                "template": tmpl,
            },
        }
        try:
            return self.store.create("apps/replicasets", rs)
        except ApiError as exc:
            event(
                self.store,
                d,
                "FailedCreate",
                f"Failed to create new replica set: {exc.message}",
                warning=True,
                component=COMPONENT,
            )
            return None

    def _set_revision(self, rs: dict, revision: int) -> dict:
        def fn(o: dict) -> None:
            o["metadata"].setdefault("annotations", {})[REVISION] = str(revision)

        return (
            self.store.mutate("apps/replicasets", rs["metadata"].get("namespace"), rs["metadata"]["name"], fn)
            or rs
        )

    def _annotate(self, d: dict, revision: int) -> None:
        if (d["metadata"].get("annotations") or {}).get(REVISION) == str(revision):
            return

        def fn(o: dict) -> None:
            o["metadata"].setdefault("annotations", {})[REVISION] = str(revision)

        self.store.mutate("apps/deployments", d["metadata"].get("namespace"), d["metadata"]["name"], fn)

    def _scale(self, d: dict, rs: dict, replicas: int) -> dict:
        old = _spec_replicas(rs)
        if old == replicas:
            return rs
        spec = d.get("spec") or {}
        surge, _ = self._limits(d)

        def fn(o: dict) -> None:
            o.setdefault("spec", {})["replicas"] = replicas
            ann = o["metadata"].setdefault("annotations", {})
            ann["deployment.kubernetes.io/desired-replicas"] = str(spec.get("replicas", 1))
            ann["deployment.kubernetes.io/max-replicas"] = str(int(spec.get("replicas", 1)) + surge)

        out = self.store.mutate(
            "apps/replicasets", rs["metadata"].get("namespace"), rs["metadata"]["name"], fn
        )
        self._scaled_event(d, rs, old, replicas)
        return out or rs

    def _scaled_event(self, d: dict, rs: dict, old: int, new: int) -> None:
        verb = "up" if new > old else "down"
        event(
            self.store,
            d,
            "ScalingReplicaSet",
            f"Scaled {verb} replica set {rs['metadata']['name']} from {old} to {new}",
            component=COMPONENT,
        )

    # ---- status -----------------------------------------------------------------------------------------

    def _status(
        self, d: dict, new_rs: dict | None, rss: list[dict], now: datetime, created: tuple[str, str] | None
    ) -> None:
        meta, spec = d["metadata"], d.get("spec") or {}
        replicas = int(spec.get("replicas", 1))
        fresh = [
            self.store.get("apps/replicasets", rs["metadata"].get("namespace"), rs["metadata"]["name"]) or rs
            for rs in rss
        ]
        new = next(
            (rs for rs in fresh if new_rs and rs["metadata"]["uid"] == new_rs["metadata"]["uid"]), None
        )
        counts = {
            "replicas": sum(_st(rs, "replicas") for rs in fresh),
            "updatedReplicas": _st(new, "replicas") if new else 0,
            "readyReplicas": sum(_st(rs, "readyReplicas") for rs in fresh),
            "availableReplicas": sum(_st(rs, "availableReplicas") for rs in fresh),
        }
        counts["unavailableReplicas"] = max(
            0, sum(_spec_replicas(rs) for rs in fresh) - counts["availableReplicas"]
        )
        # pods of old ReplicaSets that are still terminating keep the rollout going (kstatus: ExtraPods)
        terminating = sum(1 for rs in fresh for p in self._pods_of(rs) if is_terminating(p))
        strategy = (spec.get("strategy") or {}).get("type", "RollingUpdate")
        max_unavailable = self._limits(d)[1] if strategy == "RollingUpdate" and replicas else 0
        rs_name = new["metadata"]["name"] if new else ""
        deadline = spec.get("progressDeadlineSeconds")
        failure = next(
            (get_condition(rs, "ReplicaFailure") for rs in fresh if get_condition(rs, "ReplicaFailure")), None
        )

        def write(obj: dict) -> None:
            old = obj.get("status") or {}
            status: dict = {k: v for k, v in old.items() if k == "conditions"}
            # the synced generation, not the fresh one: a spec change landing meanwhile stays unobserved
            status["observedGeneration"] = meta.get("generation", 1)
            for k, v in counts.items():
                if v:
                    status[k] = v
            if counts["availableReplicas"] >= replicas - max_unavailable:
                set_condition(
                    status,
                    "Available",
                    "True",
                    "MinimumReplicasAvailable",
                    "Deployment has minimum availability.",
                    now,
                    update_time=True,
                    bump_update=False,
                )
            else:
                set_condition(
                    status,
                    "Available",
                    "False",
                    "MinimumReplicasUnavailable",
                    "Deployment does not have minimum availability.",
                    now,
                    update_time=True,
                    bump_update=False,
                )
            self._progressing(status, old, spec, counts, rs_name, now, created, deadline, terminating)
            if failure:
                set_condition(
                    status,
                    "ReplicaFailure",
                    "True",
                    failure.get("reason", "FailedCreate"),
                    failure.get("message", ""),
                    now,
                    update_time=True,
                    bump_update=False,
                )
            else:
                remove_condition(status, "ReplicaFailure")
            obj["status"] = status

        self.store.mutate(
            "apps/deployments", meta.get("namespace"), meta["name"], write, subresource="status"
        )

    def _progressing(
        self,
        status: dict,
        old: dict,
        spec: dict,
        counts: dict,
        rs_name: str,
        now: datetime,
        created: tuple[str, str] | None,
        deadline: int | None,
        terminating: int,
    ) -> None:
        if deadline is None:
            return
        cond = get_condition({"status": status}, "Progressing")
        replicas = int(spec.get("replicas", 1))
        if spec.get("paused"):
            set_condition(
                status,
                "Progressing",
                "Unknown",
                "DeploymentPaused",
                "Deployment is paused",
                now,
                update_time=True,
                bump_update=False,
            )
            return
        if cond and cond.get("reason") == "DeploymentPaused":
            set_condition(
                status,
                "Progressing",
                "Unknown",
                "DeploymentResumed",
                "Deployment is resumed",
                now,
                update_time=True,
            )
            return
        if created:
            set_condition(status, "Progressing", "True", created[0], created[1], now, update_time=True)
            return
        complete = (
            counts["updatedReplicas"] == replicas
            and counts["availableReplicas"] == replicas
            and counts["replicas"] == replicas
            and not terminating
        )
        if complete:
            if not cond or cond.get("reason") != "NewReplicaSetAvailable":
                set_condition(
                    status,
                    "Progressing",
                    "True",
                    "NewReplicaSetAvailable",
                    f'ReplicaSet "{rs_name}" has successfully progressed.',
                    now,
                    update_time=True,
                )
            return
        progressed = (
            counts["updatedReplicas"] > int(old.get("updatedReplicas", 0))
            or counts["readyReplicas"] > int(old.get("readyReplicas", 0))
            or counts["availableReplicas"] > int(old.get("availableReplicas", 0))
            or counts["replicas"] - counts["updatedReplicas"]
            < int(old.get("replicas", 0)) - int(old.get("updatedReplicas", 0))
        )
        if progressed or not cond or cond.get("reason") == "NewReplicaSetAvailable":
            set_condition(
                status,
                "Progressing",
                "True",
                "ReplicaSetUpdated",
                f'ReplicaSet "{rs_name}" is progressing.',
                now,
                update_time=True,
            )
            return
        since = parse_ts(cond.get("lastUpdateTime"))
        if (
            cond.get("reason") != "ProgressDeadlineExceeded"
            and since is not None
            and (now - since).total_seconds() > deadline
        ):
            set_condition(
                status,
                "Progressing",
                "False",
                "ProgressDeadlineExceeded",
                f'ReplicaSet "{rs_name}" has timed out progressing.',
                now,
                update_time=True,
            )

"""In-memory implementations of the application's ports, for use-case tests without processes.

They keep the ports' contracts (revisions oldest first, releases decoded per revision, a driver per
tracker); Kubernetes and helm themselves are exercised by the end-to-end tests."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from bot.core.events import TrackEvent
from bot.core.releases import Release, decode_release_json
from bot.core.tracking import ReleaseTracker


@dataclass(frozen=True)
class Head:
    name: str
    revision: int
    status: str
    managers: tuple[str, ...] = ("helm",)


@dataclass
class FakeCluster:
    name: str = "default"
    heads: dict[str, list[Head]] = field(default_factory=dict)          # namespace -> heads
    records: dict[tuple[str, str, int], Release] = field(default_factory=dict)
    synced: bool = True
    driven: list[tuple[str, int]] = field(default_factory=list)

    def add(self, namespace: str, name: str, revision: int, status: str = "deployed", *,
            description: str = "Upgrade complete", chart_version: str = "1.0.0",
            labels: dict[str, str] | None = None, managers: tuple[str, ...] = ("helm",)) -> None:
        for head in self.heads.get(namespace, []):
            if head.name == name and head.status == "deployed" and status == "deployed":
                index = self.heads[namespace].index(head)
                self.heads[namespace][index] = Head(name, head.revision, "superseded", head.managers)
        self.heads.setdefault(namespace, []).append(Head(name, revision, status, managers))
        doc = {"name": name, "namespace": namespace, "version": revision,
               "info": {"status": status, "description": description,
                        "last_deployed": datetime(2026, 11, 30, tzinfo=UTC).isoformat()},
               "chart": {"metadata": {"name": name, "version": chart_version, "appVersion": "1.0"}},
               "manifest": "", "labels": labels or {}}
        self.records[(namespace, name, revision)] = decode_release_json(doc)

    def set_status(self, namespace: str, name: str, revision: int, status: str) -> None:
        """helm uninstall --keep-history marks the newest revision, it writes no new one."""
        self.heads[namespace] = [Head(h.name, h.revision, status, h.managers)
                                 if (h.name, h.revision) == (name, revision) else h
                                 for h in self.heads.get(namespace, [])]

    def remove(self, namespace: str, name: str) -> None:
        self.heads[namespace] = [h for h in self.heads.get(namespace, []) if h.name != name]

    def revisions(self, namespace: str, release: str | None = None) -> Sequence[Head]:
        heads = [h for h in self.heads.get(namespace, []) if release is None or h.name == release]
        return sorted(heads, key=lambda h: (h.name, h.revision))

    def release(self, namespace: str, name: str, revision: int) -> Release | None:
        return self.records.get((namespace, name, revision))

    def releases_synced(self, namespace: str) -> bool:
        return self.synced

    def wait_releases_fresh(self, namespace: str, timeout: float) -> bool:
        return self.releases_synced(namespace)

    def drive(self, tracker: ReleaseTracker, *, namespace: str, release: str, revision: int,
              on_change: Callable[[], None]) -> Any:
        self.driven.append((release, revision))
        return _NoDriver()

    def watch_releases(self, namespace: str, on_change: Callable[[], None]) -> Callable[[], None]:
        return lambda: None

    def check(self) -> None:
        return None

    def gitops_owner(self, namespace: str, release: str) -> None:
        return None


class _NoDriver:
    def step(self, now: datetime) -> list[TrackEvent]:
        return []

    def close(self) -> None:
        return None

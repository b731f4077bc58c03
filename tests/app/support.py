"""The HelmBot façade in-process: a real store (SQLite in memory), a cluster port holding real Helm release
records, and a HelmPort that counts its calls at the subprocess edge (helm itself is what the e2e tests in
tests/bot run). helm runs synchronously here, so a test reads the outcome right after the command."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Executor, Future
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from bot.app.operations import Operations
from bot.app.ports import Actor, Target
from bot.app.queries import Queries
from bot.app.replies import Reply
from bot.app.service import HelmBot
from bot.config import Config, parse_config
from bot.core.gitops import GitOpsOwner, owner_from_helmreleases, owner_from_labels, owner_from_objects
from bot.core.releases import Release, decode_release_json
from bot.helm.preview import ChartInfo
from bot.store import Store, open_store
from tests.core.release_fixtures import deployment, hook, release_json

T0 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
ALICE, BOB, CAROL, MALLORY, DAVE = "U0ALICE", "U0BOB", "U0CAROL", "U0MALLORY", "U0DAVE"
SRE = "S0SRE"
DEPLOYS, PROD = "C0DEPLOYS", "C0PROD"

CONFIG = f"""
releases:
  - name: shop
    environment: staging
    namespace: shop
    chart: ./charts/shop
    channel: {DEPLOYS}
    allowed_values: [image.tag, "web.*"]
    deployers: [{ALICE}, {BOB}, {SRE}]
  - name: shop
    environment: prod
    namespace: shop-prod
    chart: ./charts/shop
    channel: {PROD}
    allowed_values: [image.tag]
    deployers: [{ALICE}, {BOB}]
    protected: true
    approvers: [{CAROL}, {BOB}]
    approval_ttl: 10m
freezes:
  - releases: [shop]
    environments: [staging]
    from: "2026-12-20T00:00:00Z"
    to: "2027-01-04T00:00:00Z"
    reason: year-end freeze
"""


class SyncExecutor(Executor):
    """helm "on a worker", but now: the test sees the outcome when the command returns."""

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        future: Future[Any] = Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except BaseException as exc:
            future.set_exception(exc)
        return future


@dataclass(frozen=True)
class Head:
    name: str
    revision: int
    status: str


class FakeCluster:
    """Helm's release storage of one cluster: decoded records per (namespace, release), oldest first."""

    name = "default"

    def __init__(self) -> None:
        self.stored: dict[tuple[str, str], list[Release]] = {}
        self.helmreleases: list[dict[str, Any]] = []  # Flux HelmRelease objects "in the cluster"
        self.live: dict[tuple[str, str], list[dict[str, Any]]] = {}  # live objects with their marks
        self.down: str | None = None  # a reason: every read fails as an unreachable API server would

    def add(self, namespace: str, name: str, status: str = "deployed", **kwargs: Any) -> Release:
        history = self.stored.setdefault((namespace, name), [])
        for older in history:
            if older.status.value == "deployed":
                history[history.index(older)] = _with_status(older, "superseded")
        revision = len(history) + 1
        hooks = kwargs.pop("hooks", None)
        if hooks is None:
            hooks = [
                hook(
                    f"{name}-restore",
                    events=("pre-rollback",),
                    delete_policies=("before-hook-creation",),
                    chart=name,
                )
            ]
        doc = release_json(
            name,
            revision,
            status,
            namespace=namespace,
            chart_name=name,
            manifest_objects=kwargs.pop("manifest_objects", None) or [deployment(f"{name}-web")],
            hooks=hooks,
            **kwargs,
        )
        release = decode_release_json(doc)
        history.append(release)
        return release

    def revisions(self, namespace: str, release: str | None = None) -> Sequence[Head]:
        self._reachable()
        return [
            Head(r.name, r.revision, r.status.value)
            for (ns, name), history in sorted(self.stored.items())
            if ns == namespace and (release is None or name == release)
            for r in history
        ]

    def release(self, namespace: str, name: str, revision: int) -> Release | None:
        return next((r for r in self.stored.get((namespace, name), []) if r.revision == revision), None)

    def releases_synced(self, namespace: str) -> bool:
        return True

    def wait_releases_fresh(self, namespace: str, timeout: float) -> bool:
        return self.releases_synced(namespace)

    def drive(self, *args: Any, **kwargs: Any) -> Any:
        raise AssertionError("the façade never tracks")

    def watch_releases(self, namespace: str, on_change: Callable[[], None]) -> Callable[[], None]:
        return lambda: None

    def check(self) -> None:
        self._reachable()

    def gitops_owner(self, namespace: str, release: str) -> GitOpsOwner | None:
        """As the adapter decides it: the HelmReleases, the newest record, then the live objects."""
        history = self.stored.get((namespace, release)) or []
        named = owner_from_helmreleases(self.helmreleases, release, namespace)
        if named is not None or not history:
            return named
        return (
            owner_from_labels(history[-1].labels)
            or owner_from_objects(history[-1].resources)
            or owner_from_objects(self.live.get((namespace, release), ()))
        )

    def _reachable(self) -> None:
        if self.down is not None:
            from bot.kube.errors import ApiConnectionError

            raise ApiConnectionError(self.down)


def _with_status(release: Release, status: str) -> Release:
    from dataclasses import replace

    from bot.core.releases import ReleaseStatus

    return replace(release, status=ReleaseStatus(status))


TEMPLATE = """---
# Source: shop/templates/deployment.yaml
apiVersion: apps/v1
kind: Deployment
metadata:
  name: shop-web
spec:
  replicas: 2
  selector: {matchLabels: {app: shop}}
  template:
    metadata: {labels: {app: shop}}
    spec: {containers: [{name: web, image: "shop:2"}]}
---
# Source: shop/templates/migrate-job.yaml
apiVersion: batch/v1
kind: Job
metadata:
  name: shop-migrate
  annotations:
    "helm.sh/hook": pre-install,pre-upgrade
    "helm.sh/hook-weight": "5"
    "helm.sh/hook-delete-policy": before-hook-creation
spec:
  template:
    spec:
      restartPolicy: Never
      containers: [{name: migrate, image: "shop-migrate:2"}]
"""


@dataclass
class CountingHelm:
    """The HelmPort at the subprocess edge: records every call; upgrade and rollback write the revision
    helm would write (so the façade attaches it), unless `fail` says helm failed before writing one."""

    cluster: FakeCluster
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    values: dict[int, dict[str, Any]] = field(default_factory=dict)
    fail: bool = False

    def runs(self) -> list[tuple[str, dict[str, Any]]]:
        """The calls that change a release (upgrade, rollback)."""
        return [c for c in self.calls if c[0] in ("upgrade", "rollback")]

    def upgrade(self, target: Target, **kwargs: Any) -> None:
        self.calls.append(("upgrade", {"target": target, **kwargs}))
        if self.fail:
            from bot.helm import HelmError

            raise HelmError("UPGRADE FAILED: the stand-in said no")
        self.cluster.add(target.namespace, target.release, description=kwargs["description"])

    def rollback(self, target: Target, *, revision: int | None, timeout: timedelta, wait: bool) -> None:
        self.calls.append(("rollback", {"target": target, "revision": revision}))
        self.cluster.add(target.namespace, target.release, description=f"Rollback to {revision}")

    def render(self, target: Target, **kwargs: Any) -> str:
        self.calls.append(("render", {"target": target, **kwargs}))
        return TEMPLATE

    def get_values(self, target: Target, *, revision: int | None = None) -> dict[str, Any]:
        self.calls.append(("get_values", {"target": target, "revision": revision}))
        history = self.cluster.stored.get((target.namespace, target.release), [])
        newest = history[-1].revision if history else 0
        return dict(self.values.get(revision or newest, {"image": {"tag": "1"}, "db": {"password": "pw-1"}}))

    def chart_info(self, target: Target, *, chart: str, version: str | None) -> ChartInfo:
        self.calls.append(("chart_info", {"target": target, "chart": chart}))
        return ChartInfo("shop", version or "1.1.0", "2.0.0")


@dataclass
class Harness:
    bot: HelmBot
    store: Store
    cluster: FakeCluster
    helm: CountingHelm
    config: Config
    cards: list[tuple[str, Any]]
    logs_shown: list[str]
    now: list[datetime]

    def command(self, name: str, text: str, user: str = ALICE, **actor: Any) -> Reply:
        return self.bot.command(name, text, Actor(user_id=user, team_id="T0", channel_id=DEPLOYS, **actor))

    def click(self, action_id: str, value: str, user: str = ALICE, **actor: Any) -> Reply:
        return self.bot.action(
            action_id, value, Actor(user_id=user, team_id="T0", channel_id=DEPLOYS, **actor)
        )

    def advance(self, delta: timedelta) -> None:
        self.now[0] += delta


def harness(config_text: str = CONFIG, *, now: datetime = T0) -> Iterator[Harness]:
    config = parse_config(config_text)
    store = open_store("sqlite:///:memory:")
    cluster = FakeCluster()
    helm = CountingHelm(cluster)
    clock_now = [now]

    def clock() -> datetime:
        return clock_now[0]

    clusters: Mapping[str, Any] = {"default": cluster}
    operations = Operations(
        store=store,
        clusters=clusters,
        helm_for=lambda _: helm,
        executor=SyncExecutor(),
        clock=clock,
        on_revision=lambda record: None,
        wake_delivery=lambda: None,
    )
    queries = Queries(config=config, store=store, clusters=clusters, helm_for=lambda _: helm, clock=clock)
    cards: list[tuple[str, Any]] = []
    shown: list[str] = []

    def show_logs(deploy_id: str, actor: Actor) -> Reply:
        shown.append(deploy_id)
        return Reply.accepted("posted the logs")

    bot = HelmBot(
        config=config,
        store=store,
        clusters=clusters,
        operations=operations,
        queries=queries,
        clock=clock,
        post_card=lambda channel, view: cards.append((channel, view)),
        show_logs=show_logs,
    )
    try:
        yield Harness(bot, store, cluster, helm, config, cards, shown, clock_now)
    finally:
        store.close()

"""Assembling the running bot from its configuration: the composition root of `helmbot run` and the demo.

Every replica serves Slack (HTTP or Socket Mode) and runs helm for the requests it receives; only the leader
(always this process when the store is SQLite; elected with a Lease with PostgreSQL) follows releases,
notices revisions made elsewhere and delivers the outbox. Stopping is orderly and bounded: no new
requests, the scheduler finishes its running ticks (each has already stored what it learned), the outbox
gets a moment to drain, the Lease is handed over, then the store closes.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from slack_bolt import App
from slack_bolt.request import BoltRequest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.http_retry.builtin_handlers import ConnectionErrorRetryHandler

from bot import metrics
from bot.app.detection import ReleaseDetector, Route
from bot.app.fleet import Fleet
from bot.app.operations import Operations
from bot.app.ports import Target
from bot.app.queries import Queries
from bot.app.service import COMMANDS, HelmBot
from bot.app.tracking import TrackingService, TrackSettings
from bot.config import Config
from bot.core.releases import Release
from bot.core.status import Policy
from bot.errors import HelmbotError, describe_error
from bot.helm.port import HelmCli
from bot.kube.client import new_client
from bot.kube.cluster import KubeCluster
from bot.kube.leader import ElectionSettings, LeaderElector
from bot.runtime.cards import CardMaker
from bot.runtime.logs import LogShower
from bot.scheduler import ApsTickScheduler
from bot.slack.cards import render_approval
from bot.slack.delivery import DeliveryWorker, Rendered
from bot.slack.listeners import GroupResolver, build_app
from bot.slack.sink import SlackSink
from bot.store import Store, open_store
from bot.store.records import DeployRecord, OutboxMessage
from bot.web.server import BotHttpServer, HttpResponse, Routes

log = logging.getLogger("helmbot.runtime")

DETECT_INTERVAL = timedelta(seconds=10)  # a full look at Helm's storage, besides watch-driven looks
HEALTH_INTERVAL = timedelta(seconds=5)  # each cluster is probed this often (readiness, outage notices)
RESUME_INTERVAL = timedelta(seconds=5)  # pick up deploys other replicas started
HOUSEKEEPING_INTERVAL = timedelta(seconds=30)


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Secrets:
    """From the environment only; never logged."""

    bot_token: str | None
    signing_secret: str | None
    app_token: str | None

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Secrets:
        return cls(
            env.get("SLACK_BOT_TOKEN") or None,
            env.get("SLACK_SIGNING_SECRET") or None,
            env.get("SLACK_APP_TOKEN") or None,
        )

    def check(self, mode: str) -> None:
        missing = ["SLACK_BOT_TOKEN"] if not self.bot_token else []
        if mode == "http" and not self.signing_secret:
            missing.append("SLACK_SIGNING_SECRET")
        if mode == "socket" and not self.app_token:
            missing.append("SLACK_APP_TOKEN")
        if missing:
            raise HelmbotError(
                f"missing environment variable{'s' if len(missing) > 1 else ''}: "
                f"{', '.join(missing)} (tokens are read from the environment only)"
            )


class BotRuntime:
    def __init__(
        self,
        config: Config,
        *,
        env: Mapping[str, str],
        clock: Callable[[], datetime] = utcnow,
        helm_home: str | None = None,
        policy: Policy | None = None,
    ) -> None:
        self.config = config
        self.env = env
        self.clock = clock
        self.helm_home = helm_home
        self.policy = policy
        self.secrets = Secrets.from_env(env)
        self.secrets.check(config.slack.mode)
        self._stop = threading.Event()
        self._leading = False  # leads the home cluster: delivers Slack messages, housekeeping, notices
        self._led: set[str] = set()  # clusters whose releases this replica follows and watches
        self._lead_lock = threading.Lock()
        self._unwatch: dict[str, list[Callable[[], None]]] = {}
        self.http: BotHttpServer | None = None
        self.socket: object | None = None
        self.electors: dict[str, LeaderElector] = {}
        self.slack_ok: str | None = "not checked yet"
        self._scanned: set[tuple[str, str]] = set()  # (cluster, namespace) looked at since leading

    # -- assembly -------------------------------------------------------------------------------------

    def build(self) -> BotRuntime:
        config = self.config
        self.store: Store = open_store(config.state.effective_url(self.env))
        self.clusters: dict[str, KubeCluster] = {}
        self.helms: dict[str, HelmCli] = {}
        for name, settings in config.clusters.items():
            client = new_client(settings.kubeconfig, settings.context)
            self.clusters[name] = KubeCluster(name, client)
            metrics.count_kube_requests(name, client.counter.snapshot)
            self.helms[name] = HelmCli(
                config.helm.binary,
                kubeconfig=settings.kubeconfig,
                kube_context=settings.context,
                helm_home=self.helm_home,
            )
        self.client = WebClient(
            token=self.secrets.bot_token,
            base_url=config.slack.api_url,
            retry_handlers=[ConnectionErrorRetryHandler(max_retry_count=2)],
            timeout=15,
        )
        self.scheduler = ApsTickScheduler(workers=8)
        self.fleet = Fleet(
            config=config,
            store=self.store,
            clusters=self.clusters,
            clock=self.clock,
            wake_delivery=self._wake,
        )
        self.listener_pool = ThreadPoolExecutor(max_workers=16, thread_name_prefix="helmbot-request")
        self.helm_pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="helmbot-helm")
        self.queries = Queries(
            config=config,
            store=self.store,
            clusters=self.clusters,
            helm_for=self.helms.__getitem__,
            clock=self.clock,
            cluster_problem=self.fleet.problem,
        )
        self.cards = CardMaker(
            config=config,
            queries=self.queries,
            clusters=self.clusters,
            permalink=self._permalink,
            cluster_problem=self.fleet.problem,
        )
        self.delivery = DeliveryWorker(self.client, self.store, self._render_parent, clock=self.clock)
        self.sink = SlackSink(card_for=self.cards.card_for, clock=self.clock, wake=self.delivery.wake)
        self.tracking = TrackingService(
            store=self.store,
            clusters=self.clusters,
            sink=self.sink,
            scheduler=self.scheduler,
            clock=self.clock,
            settings_for=self._track_settings,
            on_verdict=self._count_verdict,
        )
        self.operations = Operations(
            store=self.store,
            clusters=self.clusters,
            helm_for=self.helms.__getitem__,
            executor=self.helm_pool,
            clock=self.clock,
            on_revision=self._follow,
            wake_delivery=self.delivery.wake,
        )
        self.detector = ReleaseDetector(
            store=self.store,
            clusters=self.clusters,
            operations=self.operations,
            router=self._route,
            clock=self.clock,
            follow=self._follow,
            wake_delivery=self.delivery.wake,
        )
        self.logs = LogShower(
            store=self.store,
            clusters=self.clusters,
            clock=self.clock,
            wake=self.delivery.wake,
            cards=self.cards,
        )
        self.bot = HelmBot(
            config=config,
            store=self.store,
            clusters=self.clusters,
            operations=self.operations,
            queries=self.queries,
            clock=self.clock,
            post_card=self._post_card,
            show_logs=self.logs.show,
            fleet=self.fleet,
        )
        groups = GroupResolver(
            self.client, [g for r in config.releases for g in (*r.deployers, *r.approvers)]
        )
        self.app: App = build_app(
            bot=self.bot,
            client=self.client,
            signing_secret=self.secrets.signing_secret if config.slack.mode == "http" else None,
            executor=self.listener_pool,
            commands=self._commands(),
            team_id=config.slack.team_id,
            groups=groups,
        )
        return self

    def _commands(self) -> dict[str, str]:
        names = dict(self.config.slack.commands)
        return {use_case: names.get(use_case, f"/{use_case}") for use_case in COMMANDS}

    def _track_settings(self, record: DeployRecord) -> TrackSettings:
        settings = self.queries.settings_for(record)
        defaults = self.config.defaults
        source = settings if settings is not None else defaults
        policy = self.policy or Policy(
            config_error_grace=source.config_error_grace, status_rules=self.config.status_rules
        )
        return TrackSettings(
            poll_interval=source.poll_interval,
            track_timeout=source.track_timeout,
            helm_timeout=source.helm_timeout,
            policy=policy,
        )

    def _helm_bound(self, record: DeployRecord) -> timedelta:
        """How long the helm process of a deploy may run (the runner's own process timeout)."""
        return self._track_settings(record).helm_timeout * 4 + timedelta(minutes=1)

    def _namespaces(self) -> dict[str, set[str]]:
        """Per cluster, the namespaces whose releases are watched (configured ones and notices.namespaces)."""
        out: dict[str, set[str]] = {name: set() for name in self.clusters}
        for settings in self.config.releases:
            out.setdefault(settings.cluster, set()).add(settings.namespace)
        if self.config.notices.enabled:
            for name in out:
                out[name].update(self.config.notices.namespaces)
        return out

    # -- routing and rendering ----------------------------------------------------------------------

    def _route(self, target: Target, release: Release | None) -> Route:
        settings = next(
            (
                s
                for s in self.config.releases
                if (s.cluster, s.namespace, s.name) == (target.cluster, target.namespace, target.release)
            ),
            None,
        )
        labels = dict(release.labels) if release is not None else {}
        channel, mode = self.config.notices.route_for(target.namespace, labels, settings)
        if channel is None:
            return Route(None, "mute")
        return Route(channel, mode, settings.environment if settings is not None else None)

    def _wake(self) -> None:
        delivery = getattr(self, "delivery", None)
        if delivery is not None:
            delivery.wake()

    def _permalink(self, channel: str, ts: str) -> str | None:
        """A link to a posted message (the promoted revision's), or None when Slack will not say."""
        try:
            link = self.client.chat_getPermalink(channel=channel, message_ts=ts).get("permalink")
        except (SlackApiError, SlackClientError, OSError) as exc:
            log.debug("no permalink for a message in %s: %s", channel, type(exc).__name__)
            return None
        return str(link) if link else None

    def _render_parent(self, record: DeployRecord) -> Rendered:
        return self.sink.render_parent(record)

    def _post_card(self, channel: str, view: object) -> None:
        """An approval card: posted once, then edited as it is decided or expires."""
        from bot.app.views import ApprovalView

        if not isinstance(view, ApprovalView):
            return
        rendered = render_approval(view, now=self.clock())
        key = f"approval:{view.approval_id}"
        now = self.clock()
        if self.store.get_message(key) is None:
            self.store.enqueue(
                OutboxMessage(key=key, channel=channel, kind="post", payload=rendered, created_at=now)
            )
        else:
            self.store.enqueue(
                OutboxMessage(
                    key=f"{key}:{view.status}",
                    channel=channel,
                    kind="update",
                    thread_of=key,
                    payload=rendered,
                    created_at=now,
                )
            )
        self.delivery.wake()

    # -- leadership ---------------------------------------------------------------------------------

    @property
    def home(self) -> str:
        """The cluster whose Lease elects the replica that delivers messages (leader_election.cluster)."""
        le = self.config.leader_election.cluster
        return le if le in self.clusters else next(iter(self.clusters))

    def _follow(self, record: DeployRecord) -> None:
        if record.revision is not None and record.cluster in self._led:
            self.tracking.follow(record)

    def _lead(self, cluster: str) -> None:
        """Leadership is per cluster (a Lease in each): the leader of a cluster follows and watches its
        releases; the leader of the home cluster also delivers the outbox, keeps house and tells channels of
        outages. A cluster that cannot be reached loses its leader and nothing else."""
        home = cluster == self.home
        with self._lead_lock:
            if cluster in self._led or self._stop.is_set():
                return
            self._led.add(cluster)
            if home:
                self._leading = True
                metrics.LEADER.set(1)
        log.info("leading cluster %s: following its releases, noticing revisions%s", cluster,
                 ", delivering messages" if home else "")  # fmt: skip
        if home:
            self.delivery.start()
            self.scheduler.every("housekeeping", HOUSEKEEPING_INTERVAL, self._housekeeping)
        unwatch = self._unwatch.setdefault(cluster, [])
        for namespace in sorted(self._namespaces().get(cluster, ())):
            # Each namespace is looked at on its own job, as soon as its informer has listed (the watch wakes
            # the job): a cluster that does not answer holds up nothing else.
            key = f"detect:{cluster}:{namespace}"
            self._scanned.discard((cluster, namespace))
            unwatch.append(self.clusters[cluster].watch_releases(namespace, self._waker(key)))
            self.scheduler.every(key, DETECT_INTERVAL, self._scanner(cluster, namespace))
        self.tracking.resume(cluster)
        self.scheduler.every(f"resume:{cluster}", RESUME_INTERVAL, self._resumer(cluster), first_run=False)

    def _health_checker(self, name: str) -> Callable[[], None]:
        return lambda: self._check_cluster(name)

    def _waker(self, key: str) -> Callable[[], None]:
        return lambda: self.scheduler.wake(key)

    def _scanner(self, cluster: str, namespace: str) -> Callable[[], None]:
        return lambda: self._scan(cluster, namespace)

    def _resumer(self, cluster: str) -> Callable[[], None]:
        def resume() -> None:
            self.tracking.resume(cluster)

        return resume

    def _scan(self, cluster: str, namespace: str) -> None:
        """The first look after becoming leader catches up (announces once what changed while nobody
        watched); it waits for a complete list, never for the cluster."""
        key = (cluster, namespace)
        try:
            if key in self._scanned:
                self.detector.scan(cluster, namespace)
            elif self.clusters[cluster].releases_synced(namespace):
                handled = self.detector.scan(cluster, namespace, startup=True)
                self._scanned.add(key)
                log.info("looked at the releases in %s/%s: %d new revision(s)", cluster, namespace, handled)
        except HelmbotError as exc:
            log.warning("release detection in %s/%s: %s", cluster, namespace, describe_error(exc))

    def _check_cluster(self, name: str) -> None:
        before = self.fleet.health(name)
        health = self.fleet.check(name, announce=self._leading)
        if health.reachable and (before.failures or not before.reachable):
            self.clusters[name].retry_now()  # its informers' back-off may have grown to 30 s meanwhile
        metrics.CLUSTER_REACHABLE.labels(name).set(1 if health.reachable else 0)

    def _unlead(self, cluster: str) -> None:
        home = cluster == self.home
        with self._lead_lock:
            if cluster not in self._led:
                return
            self._led.discard(cluster)
            if home:
                self._leading = False
                metrics.LEADER.set(0)
        log.warning("not leading cluster %s any more: stopping its background work", cluster)
        for unwatch in self._unwatch.pop(cluster, []):
            unwatch()
        for job in self.scheduler.jobs():
            if job.startswith(f"detect:{cluster}:") or job == f"resume:{cluster}":
                self.scheduler.cancel(job)
        self.tracking.stop_cluster(cluster)
        if home:
            self.scheduler.cancel("housekeeping")
            self.delivery.stop()

    def _count_verdict(self, record: DeployRecord) -> None:
        metrics.DEPLOYS.labels(record.cluster, record.operation, record.origin, record.status).inc()
        if record.finished_at is not None:
            metrics.TIME_TO_VERDICT.labels(record.status).observe(
                max(0.0, (record.finished_at - record.created_at).total_seconds())
            )

    def _housekeeping(self) -> None:
        now = self.clock()
        self.bot.expire_approvals(now)
        self.store.prune(now)
        self.store.release_orphan_locks(older_than=now - timedelta(minutes=1))
        self.operations.fail_abandoned(now, self._helm_bound)
        following = self.tracking.following_by_cluster()
        for name in self.clusters:
            metrics.ACTIVE_TRACKS.labels(name).set(following.get(name, 0))
        metrics.OUTBOX_DEPTH.set(self.store.outbox_depth())

    # -- serving ------------------------------------------------------------------------------------

    def _slack_http(self, body: bytes, query: str, headers: Mapping[str, list[str]]) -> HttpResponse:
        request = BoltRequest(body=body.decode("utf-8", "replace"), query=query, headers=dict(headers))
        response = self.app.dispatch(request)
        out_headers = {k: v[0] if isinstance(v, list) and v else str(v) for k, v in response.headers.items()}
        return HttpResponse(response.status, (response.body or "").encode(), out_headers)

    def ready(self) -> dict[str, str | None]:
        checks: dict[str, str | None] = {}
        try:
            self.store.ping()
            checks["store"] = None
        except HelmbotError as exc:
            checks["store"] = describe_error(exc)
        checks.update(self.fleet.readiness())  # from the periodic probes: a dead cluster never slows /readyz
        checks["slack"] = self.slack_ok
        return checks

    def degradable(self) -> frozenset[str]:
        """An unreachable cluster leaves the replica ready while another cluster is reachable: its
        releases wait, the others are still served. With every cluster down the replica is not ready."""
        names = frozenset(f"kubernetes:{name}" for name in self.clusters)
        down = {k for k, v in self.fleet.readiness().items() if v}
        return names if down != names else frozenset()

    def _check_slack(self) -> None:
        try:
            self.client.auth_test()
            self.slack_ok = None
        except SlackApiError as exc:
            self.slack_ok = f"auth.test failed: {exc.response.get('error')}"
        except (SlackClientError, OSError) as exc:
            self.slack_ok = f"Slack unreachable ({type(exc).__name__})"

    def start(self) -> BotRuntime:
        config = self.config
        self._check_slack()
        if self.slack_ok:
            log.warning("slack: %s (carrying on; /readyz says so)", self.slack_ok)
        self.scheduler.start()
        self.scheduler.every("slack-auth", timedelta(minutes=1), self._check_slack, first_run=False)
        for name in self.clusters:
            self.scheduler.every(f"health:{name}", HEALTH_INTERVAL, self._health_checker(name))
        if config.slack.port is not None:
            routes = Routes(
                slack=self._slack_http if config.slack.mode == "http" else None,
                ready=self.ready,
                degradable=self.degradable,
                metrics=metrics.exposition,
            )
            self.http = BotHttpServer(config.slack.host, config.slack.port, routes)
            self.http.start()
            log.info("listening on %s:%d (%s mode)", config.slack.host, self.http.port, config.slack.mode)
        if config.slack.mode == "socket":
            from slack_bolt.adapter.socket_mode import SocketModeHandler

            handler = SocketModeHandler(self.app, self.secrets.app_token)
            handler.connect()
            self.socket = handler
        if config.leader_election.enabled:
            le = config.leader_election
            settings = ElectionSettings(
                namespace=le.namespace,
                lease_name=le.lease_name,
                lease_duration=le.lease_duration.total_seconds(),
                renew_deadline=le.renew_deadline.total_seconds(),
                retry_period=le.retry_period.total_seconds(),
            )
            for name, cluster in self.clusters.items():
                self.electors[name] = LeaderElector(
                    cluster.client, settings, on_started=self._leader_of(name, True),
                    on_stopped=self._leader_of(name, False),
                )  # fmt: skip
                self.electors[name].start()
        else:
            for name in self.clusters:
                self._lead(name)
        return self

    def _leader_of(self, cluster: str, leading: bool) -> Callable[[], None]:
        return (lambda: self._lead(cluster)) if leading else (lambda: self._unlead(cluster))

    def stop(self, *, drain: float = 3.0) -> None:
        self._stop.set()
        if self.http is not None:
            self.http.stop()
        if self.socket is not None:
            try:
                self.socket.close()  # type: ignore[attr-defined]
            except Exception:
                log.debug("socket mode close failed", exc_info=True)
        self.listener_pool.shutdown(wait=False, cancel_futures=True)
        self.scheduler.shutdown(wait=True)
        self.tracking.stop_all()
        if self._leading:
            self.delivery.stop(drain=drain)
        for elector in self.electors.values():
            elector.stop(release=True)
        self.helm_pool.shutdown(wait=False, cancel_futures=True)
        for cluster in self.clusters.values():
            cluster.close()
        self.store.close()
        log.info("stopped")

    @property
    def port(self) -> int | None:
        return self.http.port if self.http is not None else None

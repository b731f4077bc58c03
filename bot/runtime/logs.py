"""The Show logs button: the failing containers' last lines into the deploy's thread.

A fresh tail is read while the pod exists (up to 500 lines); a pod that is gone — a hook Job deleted by its
delete policy — still has the lines the tracker captured while it ran. Short logs go inline, long ones as a
file; one answer per container and click.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from bot.app.ports import Actor
from bot.app.replies import Reply
from bot.errors import HelmbotError
from bot.kube.cluster import KubeCluster
from bot.runtime.cards import CardMaker, captured_logs
from bot.slack.render import LogFile, render_logs_reply
from bot.store import Store
from bot.store.records import OutboxMessage

FRESH_TAIL = 500
MAX_CONTAINERS = 3


class LogShower:
    def __init__(
        self,
        *,
        store: Store,
        clusters: Mapping[str, KubeCluster],
        clock: Callable[[], datetime],
        wake: Callable[[], None],
        cards: CardMaker | None = None,
    ) -> None:
        self.store = store
        self.clusters = clusters
        self.clock = clock
        self.wake = wake
        self.cards = cards

    def show(self, deploy_id: str, actor: Actor) -> Reply:
        record = self.store.get_deploy(deploy_id)
        if record is None or (not record.parent_ts and not self.store.get_message(f"parent:{deploy_id}")):
            return Reply.refused("that deploy's messages are gone")
        logs = captured_logs(record)
        if not logs:
            return Reply.refused("helmbot captured no log lines for this deploy")
        assert self.cards is not None
        card = self.cards.card_for(record)
        now = self.clock()
        shown = 0
        for where, lines in list(logs.items())[:MAX_CONTAINERS]:
            pod, _, container = where.partition("/")
            lines = self._fresh(record.cluster, record.namespace, pod, container) or lines
            rendered = render_logs_reply(card, pod, container, lines, now=now)
            payload: dict[str, Any]
            if isinstance(rendered, LogFile):
                payload = {
                    "text": f"📄 {len(lines)} log lines of {pod}/{container}, attached",
                    "blocks": [],
                    "file": {
                        "filename": rendered.filename,
                        "content": rendered.content,
                        "title": rendered.title,
                    },
                }
            else:
                payload = {"text": rendered.text, "blocks": rendered.blocks}
            key = f"logs:{deploy_id}:{where}:{now.timestamp():.0f}"
            self.store.enqueue(
                OutboxMessage(
                    key=key,
                    channel=record.channel or "",
                    kind="reply",
                    deploy_id=deploy_id,
                    thread_of=f"parent:{deploy_id}",
                    payload=payload,
                    created_at=now,
                )
            )
            shown += 1
        self.wake()
        return Reply.accepted(
            f"posted the logs of {shown} container{'s' if shown != 1 else ''} in the deploy's thread"
        )

    def _fresh(self, cluster: str, namespace: str, pod: str, container: str) -> list[str]:
        kube = self.clusters.get(cluster)
        if kube is None:
            return []
        try:
            return kube.client.read_log(namespace, pod, container, tail_lines=FRESH_TAIL)
        except HelmbotError:
            return []

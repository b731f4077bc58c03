"""The terminal view (stdout is a TTY): a `rich` live panel redrawn from the tracker's summary.

Phases, workloads with ready/desired bars, Jobs with their last log line, gated pods, elapsed time and the
latest events; when the verdict arrives the panel stops, its final frame and the timeline are printed, and
the plain verdict/diagnosis block comes last, so it stays at the bottom of the scrollback.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import TextIO

from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.table import Table
from rich.text import Text

from bot.cli.render_text import event_line, verdict_lines
from bot.core.events import EventType, TrackEvent
from bot.core.model.failures import failure_lines
from bot.core.summary import TrackSummary
from bot.core.timeline import render_timeline

_STATE_STYLE = {
    "succeeded": "green", "current": "green", "running": "yellow", "in_progress": "yellow",
    "failed": "bold red", "pending": "dim", "skipped": "dim", "unobserved": "dim", "unknown": "dim",
}
_STATE_MARK = {"succeeded": "✔", "current": "✔", "failed": "✘", "running": "▶", "in_progress": "▶"}


def _elapsed(since: datetime, now: datetime) -> str:
    seconds = max(0, int((now - since).total_seconds()))
    return f"{seconds // 60}:{seconds % 60:02d}"


def _state(state: str) -> Text:
    return Text(f"{_STATE_MARK.get(state, '·')} {state.replace('_', ' ')}", style=_STATE_STYLE.get(state, ""))


def _name_width(names: Iterable[str]) -> int:
    return min(36, max((len(n) for n in names), default=8))


def _bar(ready: int | None, desired: int | None, width: int = 10) -> Text:
    if not desired:
        return Text("")
    done = min(ready or 0, desired)
    filled = round(width * done / desired)
    return Text.assemble(("━" * filled, "green"), ("━" * (width - filled), "grey37"), f" {done}/{desired}")


def _table(*columns: tuple[str, int | None]) -> Table:
    """Fixed-width leading columns; the last one (reason, log line) takes what is left and is cut with …."""
    table = Table(box=None, pad_edge=False, show_header=True, header_style="bold", expand=False)
    for header, width in columns:
        if width is None:
            table.add_column(header, overflow="ellipsis", no_wrap=True, ratio=1)
        else:
            table.add_column(header, overflow="ellipsis", no_wrap=True, min_width=width, max_width=width)
    return table


def render_summary(summary: TrackSummary | None, recent: list[str], now: datetime) -> RenderableType:
    if summary is None:
        return Text("connecting to the Kubernetes API…", style="dim")
    title = Text.assemble(
        (f"{summary.release}", "bold"), f" revision {summary.revision}",
        f" · {summary.operation}" if summary.operation else "",
        f" · {summary.chart}" if summary.chart else "",
        f" · namespace {summary.namespace}",
        ("  elapsed " + _elapsed(summary.started_at, now), "cyan"),
    )
    parts: list[RenderableType] = [title]
    if summary.phases:
        line = Text("phases: ")
        for i, phase in enumerate(summary.phases):
            if i:
                line.append("  →  ", style="dim")
            mark = _STATE_MARK.get(phase.state, "·")
            line.append(f"{mark} {phase.name}", style=_STATE_STYLE.get(phase.state, ""))
        parts.append(line)
    if summary.jobs:
        jobs = _table(("job", _name_width(f"{j.kind}/{j.name}" for j in summary.jobs)), ("state", 14),
                      ("tries", 5), ("last log line", None))
        for job in summary.jobs:
            jobs.add_row(f"{job.kind}/{job.name}", _state(job.state),
                         "" if job.attempts is None else str(job.attempts), job.last_log_line or "")
        parts.append(jobs)
    if summary.workloads:
        table = _table(("workload", _name_width(f"{w.kind}/{w.name}" for w in summary.workloads)),
                       ("new pods ready", 16), ("state", 14), ("reason", None))
        for w in summary.workloads:
            table.add_row(f"{w.kind}/{w.name}", _bar(w.ready, w.desired), _state(w.state), w.reason)
        parts.append(table)
    for gated in summary.gated:
        on = f" waiting on {gated.job}" if gated.job else " gated in Init"
        parts.append(Text(f"⏸ {gated.workload}: {len(gated.pods)} pod(s){on}", style="yellow"))
    parts.extend(Text(f"⚠ {w}", style="yellow") for w in summary.warnings)
    parts.extend(Text(f"✘ {f}", style="red") for f in summary.failures)
    if recent:
        parts.append(Text("\n".join(recent), style="dim"))
    return Group(*parts)


class LiveRenderer:
    """The panel while tracking; at the verdict, the final frame (drawn from the summary that follows the
    verdict, so it shows the last step done, not "in progress"), the timeline, then the verdict and its
    diagnosis, last. Nothing is drawn after the verdict."""

    def __init__(self, out: TextIO, *, recent_lines: int = 6) -> None:
        self.console = Console(file=out, force_terminal=True, highlight=False)
        self._lock = threading.Lock()
        self._summary: TrackSummary | None = None
        self._recent: deque[str] = deque(maxlen=recent_lines)
        self._verdict: TrackEvent | None = None
        self._finished = False
        self._live = Live(get_renderable=self._renderable, console=self.console, refresh_per_second=4,
                          transient=True)
        self._live.start()

    def _renderable(self) -> RenderableType:
        with self._lock:
            return render_summary(self._summary, list(self._recent), datetime.now(UTC))

    def event(self, event: TrackEvent) -> None:
        if self._finished:
            return
        if event.type is EventType.VERDICT:
            self._verdict = event  # printed with the summary that follows it (or at close)
            return
        with self._lock:
            self._recent.append(event_line(event))
        if event.type is EventType.FAILURE:
            # Failures go to the scrollback too: they must survive the live panel.
            lines = [event_line(event), *failure_lines(event.data, indent="    ")]
            self._live.console.print(Text("\n".join(lines), style="red"))

    def summary(self, summary: TrackSummary) -> None:
        if self._finished:
            return
        with self._lock:
            self._summary = summary
        if self._verdict is not None:
            self._finish()
            return
        self._live.refresh()

    def close(self) -> None:
        if not self._finished:
            self._finish()

    def _finish(self) -> None:
        self._finished = True
        if self._live.is_started:
            self._live.stop()
        with self._lock:
            summary, recent = self._summary, list(self._recent)
        if summary is not None:
            self.console.print(render_summary(summary, recent, datetime.now(UTC)))
            picture = render_timeline(summary, width=max(20, min(60, self.console.width - 50)))
            if picture:
                self.console.print(Text("\n".join(picture)))
        if self._verdict is not None:
            self.console.print(Text("\n".join(verdict_lines(self._verdict))))

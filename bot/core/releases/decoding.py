"""Helm's release JSON (the record inside the Secret; `helm status -o json` has the same shape) -> Release.

Errors say which record and which field was wrong, never a value: a release's values and config are never
read into the result.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from bot.core.releases.manifest import parse_manifest
from bot.core.releases.records import (
    SYSTEM_LABELS,
    Hook,
    HookPhase,
    HookRun,
    Release,
    ReleaseDecodeError,
    ReleaseStatus,
    SecretMeta,
)


def decode_release_json(
    doc: Mapping[str, Any], *, secret: SecretMeta | None = None, where: str = "release"
) -> Release:
    """Build a Release from Helm's release JSON (``helm status -o json`` has the same shape)."""
    name = doc.get("name")
    if not isinstance(name, str) or not name:
        raise ReleaseDecodeError(f"{where}: release JSON has no name")
    revision = doc.get("version")
    if isinstance(revision, bool) or not isinstance(revision, int) or revision < 1:
        raise ReleaseDecodeError(f"{where}: release JSON has no valid version (revision)")
    where = f"{where} ({name} v{revision})" if where.startswith("release payload") else where
    info = doc.get("info") or {}
    if not isinstance(info, Mapping):
        raise ReleaseDecodeError(f"{where}: info is a {type(info).__name__}, expected an object")
    namespace = doc.get("namespace") or (secret.namespace if secret else "") or ""
    status_text = info.get("status") or "unknown"
    try:
        status = ReleaseStatus(status_text)
    except ValueError:
        raise ReleaseDecodeError(f"{where}: unknown release status {str(status_text)[:40]!r}") from None
    chart = doc.get("chart") or {}
    chart_md = (chart.get("metadata") if isinstance(chart, Mapping) else None) or {}
    problems: list[str] = []
    docs = parse_manifest(str(doc.get("manifest") or ""), namespace, problems)
    hooks_json = doc.get("hooks") or []
    if not isinstance(hooks_json, list):
        raise ReleaseDecodeError(f"{where}: hooks is a {type(hooks_json).__name__}, expected a list")
    hooks = tuple(_decode_hook(h, namespace, where, problems) for h in hooks_json if h)
    labels = {k: v for k, v in (secret.labels.items() if secret else ()) if k not in SYSTEM_LABELS}
    return Release(
        name=name,
        namespace=str(namespace),
        revision=revision,
        status=status,
        description=str(info.get("description") or ""),
        chart_name=str(chart_md.get("name") or ""),
        chart_version=str(chart_md.get("version") or ""),
        app_version=str(chart_md.get("appVersion") or ""),
        first_deployed=_time(info.get("first_deployed"), where, "info.first_deployed"),
        last_deployed=_time(info.get("last_deployed"), where, "info.last_deployed"),
        deleted=_time(info.get("deleted"), where, "info.deleted"),
        notes=str(info.get("notes") or ""),
        resources=tuple(obj for _, obj in docs),
        resource_sources=tuple(src for src, _ in docs),
        hooks=hooks,
        labels=labels,
        apply_method=str(doc.get("apply_method") or ""),
        secret=secret,
        manifest_problems=tuple(problems),
    )


def _decode_hook(h: Any, namespace: str, where: str, problems: list[str]) -> Hook:
    if not isinstance(h, Mapping):
        raise ReleaseDecodeError(f"{where}: a hook is a {type(h).__name__}, expected an object")
    hook_problems: list[str] = []
    docs = parse_manifest(str(h.get("manifest") or ""), namespace, hook_problems)
    problems.extend(f"hook {h.get('name') or '?'} {p}" for p in hook_problems)
    obj = docs[0][1] if docs else {}
    md = obj.get("metadata") or {}
    weight = h.get("weight", 0)
    if isinstance(weight, str):  # defensive: the annotation is a string; Helm stores an int
        weight = _int_or_zero(weight)
    elif isinstance(weight, bool) or not isinstance(weight, int):
        weight = 0
    run = h.get("last_run") or {}
    phase_text = (run.get("phase") or "Unknown") if isinstance(run, Mapping) else "Unknown"
    try:
        phase = HookPhase(phase_text)
    except ValueError:
        phase = HookPhase.UNKNOWN
    hook_name = str(h.get("name") or md.get("name") or "")
    return Hook(
        name=hook_name,
        kind=str(h.get("kind") or obj.get("kind") or ""),
        api_version=str(obj.get("apiVersion") or ""),
        path=str(h.get("path") or ""),
        events=tuple(str(e) for e in h.get("events") or ()),
        weight=weight,
        delete_policies=tuple(str(p) for p in h.get("delete_policies") or ()) or ("before-hook-creation",),
        output_log_policies=tuple(str(p) for p in h.get("output_log_policies") or ()),
        last_run=HookRun(
            started_at=_time(run.get("started_at"), where, f"hook {hook_name} started_at") if run else None,
            completed_at=_time(run.get("completed_at"), where, f"hook {hook_name} completed_at")
            if run
            else None,
            phase=phase,
        ),
        manifest=obj,
        namespace=str(md.get("namespace") or namespace),
    )


def _int_or_zero(text: str) -> int:
    try:
        return int(text.strip())
    except ValueError:
        return 0


_FRACTION = re.compile(r"(\.\d{1,9})")


def _time(value: Any, where: str, what: str) -> datetime | None:
    """RFC3339 with up to nanoseconds; Go's zero time and "" (Helm 3) mean unset."""
    if value in (None, ""):
        return None
    if not isinstance(value, str):
        raise ReleaseDecodeError(f"{where}: {what} is not a timestamp")
    text = value.strip()
    text = _FRACTION.sub(lambda m: m.group(1)[:7], text, count=1)
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise ReleaseDecodeError(f"{where}: {what} is not an RFC3339 timestamp: {value[:40]!r}") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    if parsed.year <= 1:
        return None
    return parsed


def epoch_time(value: str | None) -> datetime | None:
    if value is None or not value.isdigit():
        return None
    return datetime.fromtimestamp(int(value), tz=UTC)

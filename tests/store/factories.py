"""Records with sensible defaults, so a test states only what it is about."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from bot.store import Approval, AuditEntry, DeployRecord, OutboxMessage

T0 = datetime(2026, 3, 1, 12, 0, 0, 123456, tzinfo=UTC)


def deploy(**overrides: Any) -> DeployRecord:
    fields: dict[str, Any] = {
        "cluster": "staging", "namespace": "shop", "release": "shop", "environment": "staging",
        "operation": "upgrade", "requested_by": "U0123ABC", "channel": "C0123456789", "created_at": T0,
    }
    return DeployRecord(**{**fields, **overrides})


def approval(**overrides: Any) -> Approval:
    fields: dict[str, Any] = {
        "cluster": "prod", "namespace": "shop", "release": "shop",
        "request": {"operation": "upgrade", "values": {"image.tag": "1.2.3"}},
        "requested_by": "U0REQUEST", "approvers": ["U0BOSS", "S0LEADS"], "created_at": T0,
        "expires_at": T0 + timedelta(minutes=30), "channel": "C0PROD",
    }
    return Approval(**{**fields, **overrides})


def message(key: str, **overrides: Any) -> OutboxMessage:
    fields: dict[str, Any] = {
        "key": key, "channel": "C0123456789", "kind": "post", "payload": {"text": key}, "created_at": T0,
    }
    return OutboxMessage(**{**fields, **overrides})


def audit_entry(action: str, **overrides: Any) -> AuditEntry:
    fields: dict[str, Any] = {
        "at": T0, "actor": "U0123ABC", "action": action, "target": "staging/shop/shop", "outcome": "ok",
        "detail": {"revision": 3},
    }
    return AuditEntry(**{**fields, **overrides})

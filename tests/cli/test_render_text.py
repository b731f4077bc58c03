"""The CI log line: timestamp, phase, the subject once, the message."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot.cli.render_text import event_line
from bot.core.events import EventType, TrackEvent

AT = datetime(2026, 11, 23, 5, 14, 2, tzinfo=UTC)


def progress(subject: str, message: str) -> TrackEvent:
    return TrackEvent(type=EventType.RESOURCE_PROGRESS, at=AT, release="shop", namespace="shop", revision=2,
                      message=message, phase="resources", subject=subject)


@pytest.mark.parametrize(
    ("subject", "message", "line"),
    [
        pytest.param("Deployment/shop-web", "2/3 new pods ready",
                     "2026-11-23T05:14:02Z [resources] Deployment/shop-web: 2/3 new pods ready",
                     id="prefixed"),
        pytest.param("Deployment/shop-web", "shop-web: 2/3 new pods ready",
                     "2026-11-23T05:14:02Z [resources] shop-web: 2/3 new pods ready", id="message-names-it"),
        pytest.param("Job/shop-migrate", "Job/shop-migrate succeeded in 5s",
                     "2026-11-23T05:14:02Z [resources] Job/shop-migrate succeeded in 5s", id="full-subject"),
        pytest.param("Deployment/web", "webhook: unrelated",
                     "2026-11-23T05:14:02Z [resources] Deployment/web: webhook: unrelated",
                     id="prefix-of-a-word"),
    ],
)
def test_subject_is_named_once(subject: str, message: str, line: str) -> None:
    assert event_line(progress(subject, message)) == line

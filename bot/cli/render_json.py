"""`--output json`: one TrackEvent.to_dict() per line (JSON Lines), the verdict being the last one."""

from __future__ import annotations

import json
from typing import TextIO

from bot.core.events import TrackEvent


class JsonRenderer:
    def __init__(self, out: TextIO) -> None:
        self.out = out

    def event(self, event: TrackEvent) -> None:
        self.out.write(json.dumps(event.to_dict(), separators=(",", ":"), sort_keys=True) + "\n")
        self.out.flush()

    def summary(self, summary: object) -> None:
        """Summaries are derivable from the events; machine readers get events only."""

    def close(self) -> None:
        self.out.flush()

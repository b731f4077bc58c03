"""ReleaseTracker: follows one Helm release revision through successive cluster views to one verdict.

Public API: `ReleaseTracker`, `ClusterView`, `LogRequest`, `TrackSummary` (see `tracker` for the rules).
"""

from bot.core.summary import TrackSummary
from bot.core.tracking.run import ClusterView
from bot.core.tracking.state import LogRequest
from bot.core.tracking.tracker import ReleaseTracker

__all__ = ["ClusterView", "LogRequest", "ReleaseTracker", "TrackSummary"]

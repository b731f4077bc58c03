"""Is a live object the one a release manifest describes? ("applied for this revision")

During an upgrade the previous revision's objects stay in the cluster until Helm applies the new manifest;
their readiness is not this revision's progress. The live object carries what the API server stored: the
manifest's fields plus server defaults (imagePullPolicy, protocol, strategy, ...), with quantities in
canonical form ("0.5" cpu comes back as "500m"). So the check is a subset match: every field the manifest
sets has the same value live, extra live fields are ignored.

A map the manifest sets may hold more keys live (`{}` matches any map); `null` leaves a field to the
server. Lists must have the same length (a removed container or argument is a change); lists of named items
(containers, env, ports, volumes) are matched by name, in any order.

A mutating webhook or an HPA may rewrite what the manifest sets (image → digest, replicas, resources), so
the subset match can stay false for the new revision's object. Two more signs that Helm applied it: its
managedFields entry (manager "helm...") changed while we watched or is from a later second than the
operation's start; or, when no such entry exists, its metadata.generation grew while we watched. An HPA's
scale also bumps the generation but leaves Helm's managedFields entry alone: where that entry exists, it
decides.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import datetime
from fractions import Fraction
from typing import Any

from bot.core.model.values import api_time

__all__ = ["applied_since", "generation_of", "helm_applied_at", "matches_manifest", "parse_quantity"]

HELM_MANAGERS = ("helm",)  # prefixes: helm v3 (Update), v4 (server-side Apply), Flux's helm-controller

# Top-level fields the server rewrites or that carry no desired state.
_SKIP = frozenset({"apiVersion", "kind", "metadata", "status", "stringData"})
# Maps whose values are resource.Quantity.
_QUANTITY_MAPS = frozenset({"requests", "limits", "capacity", "hard", "overhead"})
_QUANTITY_KEYS = frozenset({"storage", "sizeLimit"})
_QUANTITY = re.compile(r"^([+-]?(?:\d+\.?\d*|\.\d+))(Ki|Mi|Gi|Ti|Pi|Ei|[eE][+-]?\d+|[numkMGTPE]?)$")
_NUMBER = re.compile(r"^-?\d+(?:\.\d+)?$")
_BINARY = {"Ki": 1, "Mi": 2, "Gi": 3, "Ti": 4, "Pi": 5, "Ei": 6}
_DECIMAL = {"n": -9, "u": -6, "m": -3, "": 0, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15, "E": 18}


def matches_manifest(live: Mapping[str, Any], manifest: Mapping[str, Any]) -> bool:
    """True when `live` carries everything `manifest` sets (labels and annotations included)."""
    live_md = live.get("metadata") or {}
    manifest_md = manifest.get("metadata") or {}
    for key in ("labels", "annotations"):
        if key in manifest_md and not _contains(live_md.get(key), manifest_md[key], (key,)):
            return False
    return all(_contains(live.get(key), value, (key,)) for key, value in manifest.items() if key not in _SKIP)


def helm_applied_at(live: Mapping[str, Any]) -> datetime | None:
    """When Helm last changed the object (its managedFields entry's time), None without such an entry."""
    times = [
        api_time(entry.get("time"))
        for entry in (live.get("metadata") or {}).get("managedFields") or ()
        if isinstance(entry, Mapping)
        and str(entry.get("manager") or "").startswith(HELM_MANAGERS)
        and not entry.get("subresource")
    ]
    known = [t for t in times if t is not None]
    return max(known) if known else None


def generation_of(live: Mapping[str, Any]) -> int | None:
    value = (live.get("metadata") or {}).get("generation")
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def applied_since(
    live: Mapping[str, Any],
    op_start: datetime | None,
    first_seen: tuple[int | None, datetime | None] | None,
) -> bool:
    """Helm changed the object in this operation, though it may no longer look like the manifest.

    `first_seen`: (generation, Helm's managedFields time) when we first saw the object, None if this is
    the first sight. A change seen while we watched is this operation's (the previous one finished before
    this revision was stored). At first sight only an entry in a later second than the operation's start
    counts: managedFields time has whole seconds, and an upgrade right after another must not take the
    previous apply for this one's.
    """
    applied = helm_applied_at(live)
    if applied is not None:
        if first_seen is not None and first_seen[1] is not None and applied != first_seen[1]:
            return True
        return op_start is not None and applied > op_start
    generation, first_generation = generation_of(live), first_seen[0] if first_seen else None
    return generation is not None and first_generation is not None and generation > first_generation


def parse_quantity(value: Any) -> Fraction | None:
    """A Kubernetes quantity ("500m", "1Gi", "2", 0.5) as an exact number; None if it is not one."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return Fraction(str(value))
    if not isinstance(value, str):
        return None
    m = _QUANTITY.match(value.strip())
    if m is None:
        return None
    number, suffix = Fraction(m.group(1)), m.group(2)
    if suffix in _BINARY:
        return number * 1024 ** _BINARY[suffix]
    if suffix[:1] in ("e", "E"):
        return number * Fraction(10) ** int(suffix[1:])
    return number * Fraction(10) ** _DECIMAL[suffix]


def _contains(live: Any, want: Any, path: tuple[str, ...]) -> bool:
    if want is None:
        return True  # null in a manifest leaves the field to the server
    if want == "" or want == []:
        return live is None or live == want
    if isinstance(want, Mapping):
        if not want:
            return live is None or isinstance(live, Mapping)
        return isinstance(live, Mapping) and all(
            _contains(live.get(key), value, (*path, str(key))) for key, value in want.items()
        )
    if isinstance(want, list):
        return isinstance(live, list) and _list_contains(live, want, path)
    return _same_scalar(live, want, path)


def _list_contains(live: Sequence[Any], want: Sequence[Any], path: tuple[str, ...]) -> bool:
    if len(live) != len(want):
        return False
    if all(isinstance(w, Mapping) and "name" in w for w in want):
        return all(
            any(
                isinstance(item, Mapping) and item.get("name") == w["name"] and _contains(item, w, path)
                for item in live
            )
            for w in want
        )
    return all(_contains(item, w, path) for item, w in zip(live, want, strict=True))


def _same_scalar(live: Any, want: Any, path: tuple[str, ...]) -> bool:
    if isinstance(live, bool) or isinstance(want, bool):
        return isinstance(live, bool) and isinstance(want, bool) and live == want
    if live == want:
        return True
    if path and (path[-1] in _QUANTITY_KEYS or (len(path) > 1 and path[-2] in _QUANTITY_MAPS)):
        quantity = parse_quantity(want)
        return quantity is not None and quantity == parse_quantity(live)
    # int-or-string fields (ports, maxSurge): 8080 and "8080" are the same value
    number = _as_number(want)
    return number is not None and number == _as_number(live)


def _as_number(value: Any) -> Fraction | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return Fraction(str(value))
    if isinstance(value, str) and _NUMBER.match(value):
        return Fraction(value)
    return None

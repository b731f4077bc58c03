"""ControllerRevisions for StatefulSets and DaemonSets (the history `kubectl rollout history` reads)."""

from __future__ import annotations

import copy

from bot.sim.controllers.common import owned, owner_ref, template_hash
from bot.sim.store import ApiError, Store

KEY = "apps/controllerrevisions"


def sync_revision(store: Store, owner: dict, *, name_prefix: bool) -> tuple[str, int]:
    """Ensure a ControllerRevision for the owner's current template; returns (hash label value, revision)."""
    spec = owner.get("spec") or {}
    template = copy.deepcopy(spec.get("template") or {})
    h = template_hash(template)
    label = f"{owner['metadata']['name']}-{h}" if name_prefix else h
    revs = owned(store, KEY, owner)
    for rev in revs:
        if (rev["metadata"].get("labels") or {}).get("controller-revision-hash") == label:
            return label, int(rev.get("revision", 1))
    number = max((int(r.get("revision", 0)) for r in revs), default=0) + 1
    selector_labels = dict((spec.get("selector") or {}).get("matchLabels") or {})
    body = {
        "apiVersion": "apps/v1",
        "kind": "ControllerRevision",
        "metadata": {
            "name": f"{owner['metadata']['name']}-{h}",
            "namespace": owner["metadata"].get("namespace"),
            "labels": {**selector_labels, "controller-revision-hash": label},
            "ownerReferences": [owner_ref(owner)],
        },
        "data": {"spec": {"template": {**template, "$patch": "replace"}}},
        "revision": number,
    }
    try:
        store.create(KEY, body)
    except ApiError as exc:
        if exc.code != 409:
            raise
    limit = int(spec.get("revisionHistoryLimit", 10))
    old = sorted(revs, key=lambda r: int(r.get("revision", 0)))
    for rev in old[: max(0, len(old) + 1 - limit - 1)]:
        store.delete(KEY, rev["metadata"].get("namespace"), rev["metadata"]["name"])
    return label, number

"""Property: whatever text a person types, the HelmBot façade answers (never raises), runs helm only for a
command it accepts (exactly once), and never repeats a value it was given."""

from __future__ import annotations

import json

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from bot.app.replies import ReplyKind
from bot.app.service import COMMANDS
from tests.app.support import ALICE, BOB, CAROL, MALLORY, harness

SECRET = "s3cr3t-VALUE"
WORDS = [
    "shop",
    "shopp",
    "SHOP",
    "staging",
    "prod",
    "qa",
    "1.2.0",
    "v2",
    "0",
    "9",
    "--dry-run",
    "--force",
    "-",
    "image.tag=1",
    "web.replicas=3",
    "db.password=x",
    f"image.tag={SECRET}",
    f"db.password={SECRET}",
    f"web.x={SECRET}",
    "=",
    "a=",
    "=b",
    "'",
    '"',
    "\u201cshop\u201d",
    "<!channel>",
    "<@U0ALICE>",
    "&lt;",
    "&amp;",
    "status",
    "history",
    "help",
    "releases",
    "`id`",
    "$(id)",
    ";",
    "|",
    "\\",
    "\t",
    "\n",
]
TOKENS = st.one_of(st.sampled_from(WORDS), st.text(min_size=1, max_size=12))
NEAR_VALID = st.tuples(
    st.sampled_from(
        ["shop staging", "shop staging", "shop prod", "shop staging 1.2.0", "shop", "nope staging"]
    ),
    st.lists(
        st.sampled_from(["image.tag=1", "web.replicas=3", f"image.tag={SECRET}", f"db.password={SECRET}"]),
        max_size=2,
        unique=True,
    ),
    st.sampled_from(["", "", "--dry-run", "1", "status"]),
).map(lambda t: " ".join([t[0], *t[1], t[2]]).strip())
TEXTS = st.one_of(
    NEAR_VALID,
    NEAR_VALID,
    st.text(max_size=200),
    st.lists(TOKENS, max_size=8).map(" ".join),
    st.lists(st.sampled_from(WORDS), min_size=1, max_size=6).map(" ".join),
)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(
    name=st.sampled_from([*COMMANDS, "deploy", "deploy", "rollback", "nope"]),
    text=TEXTS,
    user=st.sampled_from([ALICE, BOB, CAROL, MALLORY]),
    stuck=st.sampled_from([False, False, False, True]),
)
def test_any_text_gets_an_answer_and_helm_runs_only_for_an_accepted_command(
    name: str, text: str, user: str, stuck: bool
) -> None:
    for h in harness():
        h.cluster.add("shop", "shop", "deployed")
        h.cluster.add("shop", "shop", "pending-upgrade" if stuck else "deployed")
        h.cluster.add("shop-prod", "shop", "deployed")
        reply = h.command(name, text, user=user)
        assert isinstance(reply.kind, ReplyKind) and reply.text.strip()
        event(f"{name}: {reply.kind.value}")
        runs = h.helm.runs()
        if reply.kind is ReplyKind.ACCEPTED:
            assert name in ("deploy", "promote") and len(runs) == 1, (reply, runs)
            assert user in (ALICE, BOB)
        else:
            assert runs == [], (reply, runs)
        shown = reply.text + json.dumps(reply.data, default=str) + repr(reply.card)
        audited = json.dumps([e.to_dict() for e in h.store.audit_entries()])
        assert SECRET not in shown and SECRET not in audited
        assert len(h.store.audit_entries()) == 1

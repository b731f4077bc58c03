"""Block Kit builders: escaping of untrusted text, truncation at sensible boundaries, every Slack limit, and
`validate_message` catching what Slack would refuse."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.slack import blocks as b
from tests.slack.checks import assert_valid

HOSTILE = "<!channel> <@U123> <https://evil.example|click> & <#C1> ```"


def _msg(*blocks: dict[str, Any] | None, text: str = "fallback") -> tuple[list[dict[str, Any]], str]:
    return b.fit_message(list(blocks), text)


def test_escape_makes_mentions_links_and_channel_pings_inert() -> None:
    text = b.escape(HOSTILE)
    assert text == ("&lt;!channel&gt; &lt;@U123&gt; &lt;https://evil.example|click&gt; &amp; &lt;#C1&gt; "
                    "`\u200b`\u200b`")
    assert "<" not in text and ">" not in text
    assert b.validate_message([b.section(text)], "x") == []


def test_validate_rejects_unescaped_tokens_but_allows_our_mentions_dates_and_quotes() -> None:
    raw = b.section("deploy log: <!channel> please look")
    assert any("unescaped" in p for p in b.validate_message([raw], "x"))
    assert any("'&'" in p for p in b.validate_message([b.section("a & b")], "x"))
    ours = b.section("Requested by <@U024BE7LH>\n> quoted reason\n" + b.date_token(b_now(), "12:00 UTC"))
    assert b.validate_message([ours], "x") == []
    assert any("text" in p for p in b.validate_message([ours], "<!here> deploy"))


def b_now() -> Any:
    from datetime import UTC, datetime

    return datetime(2026, 1, 2, 3, 4, tzinfo=UTC)


def test_mention_only_for_a_user_id() -> None:
    assert b.mention("U024BE7LH") == "<@U024BE7LH>"
    assert b.mention("W0ABC") == "<@W0ABC>"
    assert b.mention("Flux helm-controller") == "Flux helm-controller"
    assert b.mention("<!channel>") == "&lt;!channel&gt;"


def test_truncation_prefers_a_line_and_never_splits_an_entity_or_a_mention() -> None:
    text = "first line\nsecond line &amp; more &lt;!channel&gt; <@U024BE7LH> tail"
    for limit in range(1, len(text) + 2):
        cut = b.truncate_mrkdwn(text, limit)
        assert b.slack_len(cut) <= limit
        assert b.mrkdwn_problems(cut) == [], (limit, cut)
    assert b.truncate_mrkdwn(text, 20) == "first line…"
    assert b.truncate_mrkdwn(text, 30) == "first line\nsecond line &amp;…"
    assert b.truncate_mrkdwn("word " * 20, 22) == "word word word word…"


def test_truncation_closes_an_open_code_block() -> None:
    text = "log:\n```\n" + "\n".join(f"line {i}" for i in range(100)) + "\n```"
    cut = b.truncate_mrkdwn(text, 120)
    assert b.slack_len(cut) <= 120 and cut.endswith("\n…\n```") and b.mrkdwn_problems(cut) == []


def test_lengths_count_utf16_units_so_emoji_cannot_overflow() -> None:
    header = b.header("🚀" * 200)
    assert b.slack_len(header["text"]["text"]) <= b.HEADER_TEXT
    assert b.slack_len("🚀") == 2 and b.slack_len("✅") == 1


def test_code_block_keeps_the_tail_escapes_and_neutralises_fences_and_colours() -> None:
    lines = [f"step {i}" for i in range(2000)] + ["\x1b[31mERROR\x1b[0m ``` <!here>"]
    text = b.code_block(lines, 500)
    assert b.slack_len(text) <= 500 and text.startswith("```\n… ") and text.endswith("\n```")
    body = text.split("\n")
    assert body[1].endswith("earlier lines") and body[-2].startswith("ERROR ")
    assert "&lt;!here&gt;" in body[-2] and "\x1b" not in text and text.count("```") == 2
    head = b.code_block(lines, 200, keep="head", omitted="… {n} more lines")
    assert head.split("\n")[1] == "step 0" and head.split("\n")[-2].endswith("more lines")


def test_lines_within_says_how_many_were_left_out() -> None:
    text = b.lines_within([f"• workload-{i}" for i in range(200)], 300)
    assert b.slack_len(text) <= 300
    kept = text.splitlines()
    assert kept[-1] == f"… and {200 - (len(kept) - 1)} more"
    assert b.lines_within(["a", "b"], 100) == "a\nb"


def test_builders_enforce_element_limits() -> None:
    section = b.section("x" * 5000, fields=["f" * 3000] * 14)
    assert b.slack_len(section["text"]["text"]) <= b.SECTION_TEXT
    assert len(section["fields"]) == 10 and all(len(f["text"]) <= b.FIELD_TEXT for f in section["fields"])
    assert len(b.context(*["c"] * 15)["elements"]) == 10
    dialog = b.confirm_dialog("t" * 200, "x" * 500, confirm="c" * 50, deny="d" * 50, style="danger")
    big = b.button("B" * 100, "a" * 300, "v" * 3000, style="danger", confirm=dialog)
    assert len(big["text"]["text"]) <= 75 and len(big["action_id"]) <= 255 and len(big["value"]) <= 2000
    many = b.actions([b.button(f"b{i}", f"act_{i}") for i in range(30)] + [b.button("dup", "act_0")])
    assert many is not None and len(many["elements"]) == 25
    assert b.actions([]) is None
    blocks, text = _msg(b.header("h"), section, b.context("c"), big and b.actions([big]), text="t" * 10_000)
    assert b.validate_message(blocks, text) == []


def test_fit_message_keeps_the_header_and_the_buttons_of_a_message_with_too_many_blocks() -> None:
    many: list[dict[str, Any] | None] = [b.header("Deploy"), *(b.section(f"part {i}") for i in range(80))]
    many.append(b.actions([b.button("Roll back", "helmbot_rollback", "d1")]))
    blocks, text = b.fit_message(many, "fallback")
    assert len(blocks) == 50 and blocks[0]["type"] == "header" and blocks[-1]["type"] == "actions"
    assert blocks[-2]["elements"][0]["text"] == "… 33 more blocks not shown"
    assert b.validate_message(blocks, text) == []


def test_fit_message_shrinks_a_message_over_40000_characters() -> None:
    huge = [b.section("&amp;" * 2000 + " <@U024BE7LH>") for _ in range(45)]
    blocks, text = b.fit_message(huge, "fallback")
    assert b.message_size(blocks, text) <= b.MESSAGE_SIZE and b.validate_message(blocks, text) == []


def test_fit_message_drops_duplicate_ids() -> None:
    one = b.actions([b.button("Roll back", "helmbot_rollback", "d1")], block_id="x")
    two = b.actions([b.button("Roll back", "helmbot_rollback", "d1")], block_id="x")
    blocks, _ = b.fit_message([b.section("a", block_id="x"), one, two], "t")
    assert [blk["type"] for blk in blocks] == ["section", "actions"] and "block_id" not in blocks[1]


def test_validate_names_every_broken_limit() -> None:
    button: dict[str, Any] = {"type": "button", "text": {"type": "plain_text", "text": "B" * 76},
                              "action_id": "same", "style": "green",
                              "confirm": {"title": {"type": "plain_text", "text": "t" * 101},
                                          "text": {"type": "plain_text", "text": "x"},
                                          "confirm": {"type": "plain_text", "text": "c" * 31},
                                          "deny": {"type": "plain_text", "text": "d"}}}
    blocks: list[Any] = [
        {"type": "header", "text": {"type": "plain_text", "text": "h" * 151}},
        {"type": "section", "text": {"type": "mrkdwn", "text": "```open"}},
        {"type": "section"},
        {"type": "context", "elements": [{"type": "mrkdwn", "text": "c"}] * 11},
        {"type": "actions", "elements": [button, dict(button)]},
        {"type": "image", "image_url": "x"},
        {"type": "divider", "block_id": "d"}, {"type": "divider", "block_id": "d"},
    ] + [{"type": "divider"}] * 45
    problems = "\n".join(b.validate_message(blocks, "x" * 4000))
    for expected in ("53 blocks", "text: 4000 characters", "blocks[0].text: 151", "unclosed ```",
                     "needs text or fields", "1 to 10 elements", "text: 76", "'green'", "used twice in the",
                     "confirm.title: 101", "confirm.confirm: 31", "unknown block type 'image'",
                     "'d' used twice"):
        assert expected in problems, expected
    assert b.validate_message([], "") == ["text: the fallback text is empty"]


# --- property: no input makes an invalid message -----------------------------------------------------------

ANY_TEXT = st.one_of(
    st.text(max_size=300),
    st.lists(st.sampled_from([*"<>&@!|`*_~\n ", "```", "&amp;", "<@U1>", "<!channel>", "🚀", "\x1b[31m",
                              "\ud800", "x" * 500]), max_size=80).map("".join),
    st.builds(lambda s, n: s * n, st.text(min_size=1, max_size=20), st.integers(1, 3000)),
)


@settings(max_examples=150, deadline=None)
@given(title=ANY_TEXT, body=ANY_TEXT, lines=st.lists(ANY_TEXT, max_size=60), label=ANY_TEXT,
       fields=st.lists(ANY_TEXT, max_size=14), limit=st.integers(1, 3000))
def test_builders_never_produce_an_invalid_message(
    title: str, body: str, lines: list[str], label: str, fields: list[str], limit: int
) -> None:
    escaped = b.escape(body)
    cut = b.truncate_mrkdwn(escaped, limit)
    assert b.slack_len(cut) <= limit and b.mrkdwn_problems(cut) == []
    dialog = b.confirm_dialog(title, body, confirm=label, deny=label, style="danger")
    blocks, text = b.fit_message([
        b.header(title),
        b.section(escaped, fields=[b.escape(f) for f in fields]),
        b.section(b.lines_within([b.escape(line) for line in lines], 3000)),
        b.section(b.code_block(lines)),
        b.section(b.inline_code(body)),
        b.context(b.escape(label), b.mention(label)),
        b.divider(),
        b.actions([b.button(label, "helmbot_rollback", body, style="danger", confirm=dialog),
                   b.button(title, "helmbot_logs", label)]),
    ], b.escape(title + body))
    assert b.validate_message(blocks, text) == []
    from bot.slack.render import SlackMessage

    assert_valid(SlackMessage(text, blocks))


def test_any_run_of_backticks_is_broken_up() -> None:
    from bot.slack.blocks import FENCE, escape

    for n in range(3, 12):
        assert FENCE not in escape("`" * n)

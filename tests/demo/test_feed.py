"""The change feed behind the page's event stream: numbering, waiting, and when a reader must start afresh."""

from __future__ import annotations

import threading

from bot.demo.hub import ChangeFeed


def test_readers_get_what_came_after_their_id_or_none_when_it_is_gone() -> None:
    feed = ChangeFeed(history=3)
    for n in range(5):
        feed.publish("slack", {"n": n})

    assert [(i, d["n"]) for i, _, d in feed.after(3) or []] == [(4, 3), (5, 4)]
    assert feed.after(2) == [(3, "slack", {"n": 2}), (4, "slack", {"n": 3}), (5, "slack", {"n": 4})]
    assert feed.after(1) is None  # item 2 fell out of the history
    assert feed.after(9) is None  # an id from before a restart
    assert feed.after(5) == []


def test_a_waiting_reader_wakes_on_publish_and_on_close() -> None:
    feed = ChangeFeed()
    got: list[object] = []
    reader = threading.Thread(target=lambda: got.append(feed.after(0, wait=30)))
    reader.start()
    feed.publish("cluster", {"namespaces": []})
    reader.join(timeout=10)
    assert got == [[(1, "cluster", {"namespaces": []})]]

    closer = threading.Thread(target=lambda: got.append(feed.after(1, wait=30)))
    closer.start()
    feed.close()
    closer.join(timeout=10)
    assert not closer.is_alive() and got[-1] == [] and feed.closed

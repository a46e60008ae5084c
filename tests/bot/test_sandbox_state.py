"""The sandbox workspace's lookups: DMs and channel names are indexed (a post does not scan
every conversation), with the same answers as a scan, renamed channels included."""

from __future__ import annotations

from bot.sandbox import methods as m
from bot.sandbox.state import BOT_USER_ID, SandboxState


def scan(state: SandboxState, name: str) -> str | None:
    """The reference: the first conversation with that name, in creation order."""
    wanted = name.lstrip("#")
    return next((c.id for c in state.channels.values() if c.name == wanted), None)


def test_dms_are_opened_once_and_found_again() -> None:
    state = SandboxState()
    users = [f"U{i:05d}" for i in range(300)]
    for user in users:
        state.add_user(user, name=user.lower())
    opened = {user: state.dm_with(user).id for user in users}
    assert len(set(opened.values())) == len(users)
    ctx = m.Context(state, "http://sandbox")
    for user in users[::7]:
        answer = m.chat_post_message(ctx, {"channel": user, "text": "hi"})
        assert answer["channel"] == opened[user]
        assert state.dm_with(user).id == opened[user]
        dm = state.channels[opened[user]]
        assert dm.is_im and dm.user == user and dm.members == {user, BOT_USER_ID}
    assert [msg["text"] for msg in state.dm_messages(users[7])] == ["hi"]
    assert sum(1 for c in state.channels.values() if c.is_im) == len(users)


def test_channel_names_resolve_like_a_scan_even_after_a_rename() -> None:
    state = SandboxState()
    state.add_user("U0DANA", name="dana")
    sales = state.add_channel("#sales")
    assert state.add_channel("sales") == sales  # an existing name is not created twice
    dm = state.dm_with("U0DANA").id
    for name in ("#sales", "sales", "U0DANA", "#nowhere"):
        found = state.channel_by_name(name)
        assert (found.id if found else None) == scan(state, name)
    assert scan(state, "U0DANA") == dm  # a DM is named after its user, as before
    state.channels[sales].name = "sales-old"  # renamed behind the index's back
    assert state.channel_by_name("#sales") is None
    assert state.channel_by_name("#sales-old").id == sales  # type: ignore[union-attr]
    fresh = state.add_channel("#sales")
    assert fresh != sales and state.channel_by_name("sales").id == fresh  # type: ignore[union-attr]
    ctx = m.Context(state, "http://sandbox")
    assert m.chat_post_message(ctx, {"channel": "#sales", "text": "x"})["channel"] == fresh

from __future__ import annotations

import datetime as dt

from rhythms.schedule import classify, fires_once_a_day, firings, next_firing, parse_period_key

UTC = dt.UTC


def _utc(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=UTC)  # type: ignore[arg-type, misc]


def test_same_wall_time_is_different_instants_per_zone() -> None:
    start, end = _utc(2026, 11, 23), _utc(2026, 11, 24, 12)
    chicago = firings("d", "30 17 * * mon-fri", "America/Chicago", start, end)
    new_york = firings("d", "30 17 * * mon-fri", "America/New_York", start, end)
    assert [f.at for f in chicago] == [_utc(2026, 11, 23, 23, 30)]
    assert [f.at for f in new_york] == [_utc(2026, 11, 23, 22, 30)]
    assert chicago[0].period_key == "d:2026-11-23:America/Chicago"
    assert parse_period_key(chicago[0].period_key) == ("d", "2026-11-23", "America/Chicago")


def test_fall_back_week_one_firing_per_day() -> None:
    found = firings("d", "30 17 * * *", "America/Chicago", _utc(2026, 10, 30), _utc(2026, 11, 3))
    assert [f.local.date().day for f in found] == [30, 31, 1, 2]
    assert [f.at.hour for f in found] == [22, 22, 23, 23]
    assert {f.local.time() for f in found} == {dt.time(17, 30)}


def test_ambiguous_and_missing_wall_times_fire_once() -> None:
    # 01:30 happens twice on 1 Nov 2026 in Chicago: fire at the first one only.
    back = firings("d", "30 1 * * *", "America/Chicago", _utc(2026, 10, 31), _utc(2026, 11, 3))
    assert [f.local.date().day for f in back] == [31, 1, 2]
    assert back[1].at == _utc(2026, 11, 1, 6, 30)
    # 02:30 does not exist on 8 Mar 2026: fire as the clock jumps (03:30 CDT), still once.
    spring = firings("d", "30 2 * * *", "America/Chicago", _utc(2026, 3, 7), _utc(2026, 3, 10))
    assert [f.local.date().day for f in spring] == [7, 8, 9]
    assert spring[1].local.hour == 3


def test_sub_daily_crons_get_time_stamped_keys() -> None:
    assert not fires_once_a_day("*/30 9-18 * * mon-fri")
    assert fires_once_a_day("30 17 * * mon-fri")
    found = firings("a", "*/30 9-10 * * *", "UTC", _utc(2026, 11, 23), _utc(2026, 11, 23, 12))
    assert [f.period_key for f in found] == [
        "a:2026-11-23T0900:UTC",
        "a:2026-11-23T0930:UTC",
        "a:2026-11-23T1000:UTC",
        "a:2026-11-23T1030:UTC",
    ]


def test_classify_grace_and_known() -> None:
    found = firings("d", "0 * * * *", "UTC", _utc(2026, 11, 23, 0, 30), _utc(2026, 11, 23, 4))
    plan = classify(
        found,
        now=_utc(2026, 11, 23, 4),
        grace=dt.timedelta(minutes=120),
        known={"d:2026-11-23T0300:UTC"},
    )
    assert [f.at.hour for f in plan.due] == [2, 4]
    assert [f.at.hour for f in plan.missed] == [1]


def test_next_firing_skips_weekend() -> None:
    friday_evening = _utc(2026, 11, 28, 0)  # Fri 27 Nov 18:00 Chicago
    nxt = next_firing("d", "30 17 * * mon-fri", "America/Chicago", friday_evening)
    assert nxt is not None and nxt.local.date() == dt.date(2026, 11, 30)

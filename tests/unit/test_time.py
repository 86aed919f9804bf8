from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from lumi_common.time import iso_ms, parse_iso, utcnow


def test_utcnow_has_millisecond_precision() -> None:
    assert utcnow().microsecond % 1000 == 0
    assert utcnow().tzinfo is UTC


def test_iso_ms_is_utc_with_z_and_milliseconds() -> None:
    moment = datetime(2026, 2, 4, 20, 0, 21, 412999, tzinfo=timezone(timedelta(hours=8)))
    assert iso_ms(moment) == "2026-02-04T12:00:21.412Z"


def test_parse_iso_round_trips_and_assumes_utc() -> None:
    assert iso_ms(parse_iso("2026-02-04T12:00:21.412Z")) == "2026-02-04T12:00:21.412Z"
    assert parse_iso("2026-02-04T12:00:21") == datetime(2026, 2, 4, 12, 0, 21, tzinfo=UTC)

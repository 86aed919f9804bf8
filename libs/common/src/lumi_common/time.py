"""UTC time with millisecond precision, as stored in the database and sent to clients."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta


def utcnow() -> datetime:
    """The current UTC time, truncated to whole milliseconds."""
    return truncate_ms(datetime.now(UTC))


def truncate_ms(moment: datetime) -> datetime:
    return moment.replace(microsecond=moment.microsecond - moment.microsecond % 1000)


def iso_ms(moment: datetime) -> str:
    """ISO-8601 in UTC with milliseconds and a `Z`, as both clients parse and resend it."""
    utc = moment.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def parse_iso(text: str) -> datetime:
    """Parse an ISO-8601 timestamp; a value without an offset is taken as UTC.

    Raises ValueError for anything that is not one, including a moment that has no UTC
    equivalent (`9999-12-31T23:59:59-14:00` lies past year 9999 in UTC).
    """
    moment = datetime.fromisoformat(text.strip().replace("z", "Z"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    try:
        return moment.astimezone(UTC)
    except OverflowError:
        raise ValueError(f"out of range: {text!r}") from None


def seconds(value: float) -> timedelta:
    return timedelta(seconds=value)

"""Dates in and out: ISO 8601, with or without a timezone (none means UTC)."""

from __future__ import annotations

from datetime import UTC, datetime

from memvault.errors import InvalidInput

__all__ = ["parse_datetime", "utc_now"]


def utc_now() -> datetime:
    return datetime.now(UTC)


def shown(moment: datetime, *, time: bool = True) -> str:
    """``moment`` for people: ``2024-05-01 09:30`` (the date alone without ``time``), the
    year in four digits even before 1000, which ``strftime("%Y")`` leaves unpadded."""
    return f"{moment.year:04d}-{moment:%m-%d %H:%M}" if time \
        else f"{moment.year:04d}-{moment:%m-%d}"


def parse_datetime(value: object, field: str) -> datetime:
    """An ISO 8601 string or a datetime → an aware UTC datetime. Naive means UTC."""
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, str):
        text = value.strip()
        if text.endswith(("z", "Z")):
            text = text[:-1] + "+00:00"
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            raise InvalidInput(
                f"{field} is not an ISO 8601 date: {value!r} "
                "(use e.g. 2024-05-08 or 2024-05-08T13:56:00+02:00)"
            ) from None
    else:
        raise InvalidInput(f"{field} must be an ISO 8601 date string, got {type(value).__name__}")
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    try:
        return moment.astimezone(UTC)
    except (OverflowError, ValueError):
        raise InvalidInput(
            f"{field} is out of range: {value!r} falls outside years 1-9999 in UTC"
        ) from None

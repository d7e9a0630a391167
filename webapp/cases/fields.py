"""Filters and coercions the casework forms share."""


def strip(value):
    """A WTForms filter: surrounding blanks off (non-strings pass through)."""
    return value.strip() if isinstance(value, str) else value


def int_or_none(value):
    """A ``coerce`` for selects whose empty choice means none: an int, or None."""
    if value in (None, "", "None"):
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None

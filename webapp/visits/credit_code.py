"""统一社会信用代码 (GB 32100-2015): 18 characters, the last a check character over the first 17."""

CHARSET = "0123456789ABCDEFGHJKLMNPQRTUWXY"  # 31 characters: no I, O, S, V, Z
WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)


def check_char(first17: str) -> str:
    """The check character for the first 17 characters (each must be in ``CHARSET``)."""
    total = sum(CHARSET.index(c) * w for c, w in zip(first17, WEIGHTS, strict=True))
    return CHARSET[(31 - total % 31) % 31]


def normalise(raw: str | None) -> str | None:
    """The code upper-cased without spaces when it is valid, else None."""
    if not raw:
        return None
    code = "".join(str(raw).split()).upper()
    if len(code) != 18 or any(c not in CHARSET for c in code):
        return None
    # Registration authority code (1 char) and its kind (1 char) are digits or letters; the
    # administrative division code (chars 3–8) is six digits.
    if not code[2:8].isdigit():
        return None
    return code if check_char(code[:17]) == code[17] else None

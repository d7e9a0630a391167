"""Document numbers: every numbered document type draws per type and year from one counter row,
locked while drawn, so two clerks issuing at once never get the same number."""

from sqlalchemy import Integer, String, select
from sqlalchemy.orm import Mapped, mapped_column

from . import clock
from .extensions import db

# The number of each document type (贾走访〔2026〕00123号 for a problem).
NUMBER_FORMATS = {
    "problem": "贾走访〔{year}〕{seq:05d}号",
    "sheet": "贾走访交〔{year}〕{seq:04d}号",
    "desk": "贾走访转〔{year}〕{seq:04d}号",
    "office": "贾走访统交〔{year}〕{seq:04d}号",
    "list": "贾走访清〔{year}〕{seq:04d}号",
    "meeting": "贾走访会〔{year}〕{seq:04d}号",
    "notice": "贾走访督〔{year}〕{seq:04d}号",
    # 催办通知书 and 通报 of the activity office (贾汪区走访办).
    "reminder": "贾汪走访办催〔{year}〕{seq}号",
    "bulletin": "贾汪走访办通〔{year}〕{seq}号",
    "taskbook": "贾走访任〔{year}〕{seq:04d}号",
    "closure": "贾走访销〔{year}〕{seq:04d}号",
}


class NumberSequence(db.Model):
    """Per-type, per-year document counters (贾走访〔2026〕00123号); locked when drawn."""

    __tablename__ = "number_sequences"

    kind: Mapped[str] = mapped_column(String(16), primary_key=True)
    year: Mapped[int] = mapped_column(Integer, primary_key=True)
    last: Mapped[int] = mapped_column(Integer, default=0)


def next_number(kind: str, year: int | None = None) -> tuple[int, int, str]:
    """Draw the next number of ``kind`` for the year: (year, seq, formatted). Row-locked."""
    year = year or clock.today().year
    row = db.session.scalar(
        select(NumberSequence).where(NumberSequence.kind == kind, NumberSequence.year == year).with_for_update()
    )
    if row is None:
        row = NumberSequence(kind=kind, year=year, last=0)
        db.session.add(row)
    row.last += 1
    db.session.flush()
    return year, row.last, NUMBER_FORMATS[kind].format(year=year, seq=row.last)

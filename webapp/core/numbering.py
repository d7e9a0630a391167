"""Document numbers: every numbered document type draws per type and year from one counter row,
locked while drawn, so two clerks issuing at once never get the same number."""

from sqlalchemy import Integer, String, select
from sqlalchemy.dialects import postgresql, sqlite
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
    # Counted from the campaign's start, not per year (one counter, year CAMPAIGN).
    "visit_record": "贾走访记第{seq:06d}号",
    # 问责决定 recorded by the activity office.
    "accountability": "贾汪走访办问〔{year}〕{seq}号",
    # 调度会纪要 of the activity office.
    "minutes": "贾汪走访办纪〔{year}〕{seq}号",
}

# The "year" of the counters that run over the whole campaign (走访记录表; the 调度统计表's 期
# are counted from the campaign's first half month in ``stats.reports``).
CAMPAIGN = 0


def format_number(kind: str, seq: int, year: int = CAMPAIGN) -> str:
    return NUMBER_FORMATS[kind].format(year=year, seq=seq)


class NumberSequence(db.Model):
    """Per-type, per-year document counters (贾走访〔2026〕00123号); locked when drawn."""

    __tablename__ = "number_sequences"

    kind: Mapped[str] = mapped_column(String(16), primary_key=True)
    year: Mapped[int] = mapped_column(Integer, primary_key=True)
    last: Mapped[int] = mapped_column(Integer, default=0)


def _locked_counter(kind: str, year: int) -> NumberSequence:
    """The counter row of ``kind`` and ``year``, locked for this transaction. A counter's first
    draw creates the row with "insert unless there": two clerks drawing the first number of a
    year at once then both find the one row and take turns on its lock."""
    dialect = postgresql if db.session.get_bind().dialect.name == "postgresql" else sqlite
    db.session.execute(dialect.insert(NumberSequence.__table__)
                       .values(kind=kind, year=year, last=0).on_conflict_do_nothing())
    return db.session.scalar(
        select(NumberSequence).where(NumberSequence.kind == kind, NumberSequence.year == year)
        .with_for_update().execution_options(populate_existing=True))


def next_number(kind: str, year: int | None = None) -> tuple[int, int, str]:
    """Draw the next number of ``kind`` for the year: (year, seq, formatted). Row-locked.
    ``year=CAMPAIGN`` draws from the counter that runs over the whole campaign."""
    year = clock.today().year if year is None else year
    row = _locked_counter(kind, year)
    row.last += 1
    db.session.flush()
    return year, row.last, NUMBER_FORMATS[kind].format(year=year, seq=row.last)


def reserve_numbers(kind: str, count: int, year: int = CAMPAIGN) -> int:
    """Draw ``count`` consecutive numbers of ``kind`` at once (bulk loads); returns the first."""
    row = _locked_counter(kind, year)
    first = row.last + 1
    row.last += count
    db.session.flush()
    return first

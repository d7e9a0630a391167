"""Half-month periods (半月调度): the 1st–15th and the 16th–end of a month, in Asia/Shanghai."""

import calendar
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from flask_babel import gettext as _

from . import clock


@dataclass(frozen=True, order=True)
class Period:
    start: date
    end: date

    @classmethod
    def of(cls, day: date) -> "Period":
        """The period ``day`` falls in."""
        if day.day <= 15:
            return cls(day.replace(day=1), day.replace(day=15))
        last = calendar.monthrange(day.year, day.month)[1]
        return cls(day.replace(day=16), day.replace(day=last))

    @classmethod
    def starting(cls, start: date) -> "Period | None":
        """The period that starts on ``start`` (None if no period starts that day)."""
        if start.day not in (1, 16):
            return None
        return cls.of(start)

    def previous(self) -> "Period":
        return Period.of(self.start - timedelta(days=1))

    def next(self) -> "Period":
        return Period.of(self.end + timedelta(days=1))

    @property
    def half(self) -> int:
        """1 for the first half of the month, 2 for the second."""
        return 1 if self.start.day == 1 else 2

    @property
    def issue_no(self) -> int:
        """The period's number in its year (1–24): 第N期."""
        return (self.start.month - 1) * 2 + self.half

    def number_from(self, first: date) -> int:
        """The period's number counted from the half month holding ``first`` (that one is 1)."""
        origin = Period.of(first)
        months = (self.start.year - origin.start.year) * 12 + self.start.month - origin.start.month
        return months * 2 + self.half - origin.half + 1

    @property
    def end_utc(self) -> datetime:
        """The last instant of the period: local midnight after ``end``, in UTC (exclusive)."""
        return clock.as_utc(datetime.combine(self.end + timedelta(days=1), time(), clock.LOCAL_TZ))

    @property
    def start_utc(self) -> datetime:
        return clock.as_utc(datetime.combine(self.start, time(), clock.LOCAL_TZ))

    def ended(self, today: date | None = None) -> bool:
        return (today or clock.today()) > self.end

    @property
    def label(self) -> str:
        """2026年5月上半月（5月1日—15日）."""
        half = _("上半月") if self.half == 1 else _("下半月")
        return _("%(year)s年%(month)s月%(half)s（%(m)s月%(d1)s日—%(d2)s日）", year=self.start.year,
                 month=self.start.month, half=half, m=self.start.month, d1=self.start.day, d2=self.end.day)

    @property
    def label_compact(self) -> str:
        """2026年5月上半月 (file names)."""
        half = _("上半月") if self.half == 1 else _("下半月")
        return _("%(year)s年%(month)s月%(half)s", year=self.start.year, month=self.start.month, half=half)

    @property
    def short_label(self) -> str:
        """5月上 / 5月下 (chart axes)."""
        half = _("上") if self.half == 1 else _("下")
        return _("%(month)s月%(half)s", month=self.start.month, half=half)


def recent(n: int, *, today: date | None = None, include_current: bool = True) -> list[Period]:
    """The last ``n`` periods, oldest first; with ``include_current`` the running one is the last."""
    p = Period.of(today or clock.today())
    if not include_current:
        p = p.previous()
    out = [p]
    for _i in range(n - 1):
        out.append(out[-1].previous())
    return out[::-1]

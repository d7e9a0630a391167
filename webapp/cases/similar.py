"""Similar open problems across the district, so that a cadre does not register a duplicate.

The candidates are the newest ``CANDIDATES`` problems of the town that have not ended, and the
newest ``CANDIDATES`` of the other towns (a resident near a boundary, or one who told two work
groups) — bounded queries whatever the size of the database — read regardless of who registered
them (the point is to find someone else's registration), but the result carries only the number,
title, status, town and village: never a resident's name or phone. The same town's come first;
only those may be joined at intake (the other towns' belong to another work group).

Scoring (0–100, rapidfuzz): Chinese has no spaces, so texts are compared as character bigrams
("路灯损坏" → "路灯 灯损 损坏") after dropping punctuation and whitespace.

* ``title`` = mean of ``token_set_ratio`` over the titles' bigrams (shared wording, word order
  free) and ``partial_ratio`` over the raw titles (one title contained in the other);
* ``full`` = ``token_set_ratio`` over the bigrams of title + description of both, weighted 0.9
  (descriptions are longer and noisier), used only when the cadre has typed a description;
* score = max(title, full). A problem is suggested from ``THRESHOLD`` = 55 on.

Calibration (tests/cases/test_similar.py): "村东头的路灯坏了" vs "村东头路灯损坏" ≈ 78,
"路灯损坏" vs "路灯不亮" ≈ 64 (both street lights: worth a look), "水管漏水" vs
"自来水管道漏水" ≈ 76, while "道路积水" vs "自来水管道漏水" ≈ 44 and unrelated topics stay under 35.
"""

import re
from dataclasses import dataclass

from rapidfuzz import fuzz
from sqlalchemy import select
from sqlalchemy.orm import aliased

from ..core.extensions import db
from ..org.models import Unit
from .models import Problem
from .workflow import ENDED, Status

THRESHOLD = 55
LIMIT = 5
CANDIDATES = 500
MIN_QUERY_CHARS = 2
_NOISE = re.compile(r"[\W_]+", re.UNICODE)


def normalise(text: str | None) -> str:
    return _NOISE.sub("", text or "")


def bigrams(text: str) -> str:
    """Space-separated character bigrams of normalised text (a single character stays itself)."""
    if len(text) < 2:
        return text
    return " ".join(text[i:i + 2] for i in range(len(text) - 1))


def score(title: str, description: str, cand_title: str, cand_description: str) -> float:
    """How alike a typed problem is to an existing one (0–100); see the module docstring."""
    qt, ct = normalise(title), normalise(cand_title)
    qd, cd = normalise(description), normalise(cand_description)
    best = 0.0
    if qt and ct:
        best = (fuzz.token_set_ratio(bigrams(qt), bigrams(ct)) + fuzz.partial_ratio(qt, ct)) / 2
    if len(qd) >= MIN_QUERY_CHARS:
        full = 0.9 * fuzz.token_set_ratio(bigrams(qt + qd), bigrams(ct + cd))
        best = max(best, full)
    return best


@dataclass(frozen=True)
class Suggestion:
    """What a cadre may see of someone else's problem: no resident data."""

    id: int
    number: str
    title: str
    status: Status
    village_name: str
    same_village: bool
    score: float
    same_town: bool = True
    town_name: str = ""

    @property
    def status_label(self):
        return self.status.label


def _candidates(village: Unit, *, same_town: bool, exclude: int | None = None):
    town = aliased(Unit)
    where = Problem.town_id == village.parent_id if same_town else Problem.town_id != village.parent_id
    if exclude is not None:
        where = where & (Problem.id != exclude)
    return db.session.execute(
        select(Problem.id, Problem.number, Problem.title, Problem.description, Problem.status,
               Problem.village_id, Unit.name, town.name)
        .join(Unit, Unit.id == Problem.village_id).join(town, town.id == Problem.town_id)
        .where(where, Problem.status.notin_(ENDED))
        .order_by(Problem.registered_at.desc(), Problem.id.desc())
        .limit(CANDIDATES)
    ).all()


def similar_open_problems(village: Unit, title: str, description: str = "", *,
                          limit: int = LIMIT, threshold: float = THRESHOLD,
                          exclude: int | None = None) -> list[Suggestion]:
    """Up to ``limit`` open problems of the district that read like ``title``/``description``:
    those of ``village``'s town first, then the other towns'. ``exclude``: the problem being
    triaged (which reads exactly like itself)."""
    if len(normalise(title) + normalise(description)) < MIN_QUERY_CHARS or village.parent_id is None:
        return []
    found = []
    for same_town in (True, False):
        for pid, number, ptitle, pdesc, status, village_id, village_name, town_name in _candidates(
                village, same_town=same_town, exclude=exclude):
            s = score(title, description, ptitle, pdesc)
            if s >= threshold:
                found.append(Suggestion(pid, number, ptitle, Status(status), village_name,
                                        village_id == village.id, round(s, 1), same_town, town_name))
    found.sort(key=lambda x: (x.same_town, x.score, x.same_village, x.id), reverse=True)
    return found[:limit]

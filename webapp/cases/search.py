"""Search of problems by number, title (and the resident's and household's names) or the title's
pinyin, through an index instead of a scan.

Each problem keeps ``search_terms``: the words it can be found by, filled by the write path
(``models`` recomputes it whenever the title, the names or the number change):

- every two neighbouring Chinese characters of the title and the names (``路灯`` of 村内路灯损坏):
  most searches are two characters, which trigram indexes cannot answer;
- the title's full pinyin and its initials, from each syllable on (``ludengsunhuai``, ``ldsh``):
  typed letters find the title by a prefix of either;
- the number's sequence, padded as printed and plain (``01001``, ``1001``), and its year.

The index over that column: an FTS5 table on SQLite (``problems_search``, kept by triggers),
a GIN index of ``to_tsvector('simple', search_terms)`` on PostgreSQL (migration 0023). Without
either (an SQLite built without FTS5) the search falls back to ``LIKE``. A whole number or a
receipt number is looked up by its unique index.
"""

import re
from functools import lru_cache

from pypinyin import lazy_pinyin
from sqlalchemy import func, literal_column, or_, select, text, union

FTS_TABLE = "problems_search"
# Tables and triggers the migrations make for the index that the models do not describe (the
# schema comparison of tests/core/test_migrations.py and the benchmarks leaves them out).
UNMODELLED_PREFIX = FTS_TABLE

_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]+")
_WORD = re.compile(r"[0-9a-z]+")
FULL_SYLLABLES = 4  # full-pinyin words span this many syllables from each one on
INITIALS = 8  # initials words: this many letters from each syllable on
NUMBER = re.compile(r"〔\d{4}〕\d+号?$")


def _bigrams(value: str) -> list[str]:
    out = []
    for run in _CJK.findall(value or ""):
        out += [run] if len(run) == 1 else [run[i:i + 2] for i in range(len(run) - 1)]
    out += _WORD.findall((value or "").lower())
    return out


@lru_cache(maxsize=4096)
def _title_terms(title: str) -> tuple[str, ...]:
    syllables = [s.lower() for s in lazy_pinyin(title or "", errors="ignore") if s.isascii() and s.isalpha()]
    initials = [s[0] for s in syllables]
    full = ["".join(syllables[i:i + FULL_SYLLABLES]) for i in range(len(syllables))]
    short = ["".join(initials[i:i + INITIALS]) for i in range(len(initials))]
    return tuple(_bigrams(title) + full + short)


def terms(title: str, resident_name: str = "", household_name: str = "", year: int | None = None,
          seq: int | None = None) -> str:
    """The ``search_terms`` of a problem: its words, each once, separated by spaces."""
    words = [*_title_terms(title or ""), *_bigrams(resident_name), *_bigrams(household_name)]
    if seq is not None:
        words += [f"{seq:05d}", str(seq)]
    if year is not None:
        words.append(str(year))
    return " ".join(dict.fromkeys(w for w in words if w))


def problem_terms(problem) -> str:
    return terms(problem.title, problem.resident_name, problem.household_name, problem.year, problem.seq)


def query_words(q: str) -> list[tuple[str, bool]]:
    """The words a search asks for, each (word, prefix?): two characters exactly, a single
    character, letters or digits as the start of a word."""
    out = []
    for part in q.lower().split():
        for run in _CJK.findall(part):
            if len(run) == 1:
                out.append((run, True))
            else:
                out += [(run[i:i + 2], False) for i in range(len(run) - 1)]
        out += [(w, True) for w in _WORD.findall(part)]
    return list(dict.fromkeys(out))


_available: dict[str, bool] = {}


def _indexed(session) -> bool:
    """Whether the database has the search index (asked once per process and database)."""
    bind = session.get_bind()
    key = str(bind.url)
    if key not in _available:
        if bind.dialect.name == "sqlite":
            _available[key] = session.execute(text(
                "SELECT count(*) FROM sqlite_master WHERE name = :n"), {"n": FTS_TABLE}).scalar() == 1
        else:
            _available[key] = session.execute(text(
                "SELECT count(*) FROM pg_indexes WHERE indexname = 'ix_problems_search'")).scalar() == 1
    return _available[key]


def condition(session, problem, q: str):
    """The WHERE clause of a search for ``q`` (``problem``: the Problem class)."""
    q = q.strip()
    exact = [problem.number == q, problem.receipt_no == q.upper()]
    words = query_words(q)
    if NUMBER.search(q):
        # As an IN over the unique indexes' answer, for the reason given below.
        return problem.id.in_(select(problem.id).where(or_(*exact)))
    if not words or not _indexed(session):
        # Nothing the index holds (only punctuation such as "%"), or no index: a LIKE scan, with
        # a typed "%" or "_" searched for, not used as a wildcard.
        return or_(*exact, *(col.contains(q, autoescape=True) for col in (
            problem.number, problem.title, problem.resident_name, problem.household_name,
            problem.search_terms)))
    if session.get_bind().dialect.name == "sqlite":
        match = " AND ".join('"{}"{}'.format(w.replace('"', '""'), "*" if prefix else "") for w, prefix in words)
        ids = select(literal_column("rowid")).select_from(text(FTS_TABLE)).where(
            text(f"{FTS_TABLE} MATCH :match").bindparams(match=match))
        # One IN over the matches (and a receipt number's problem): SQLite then reads the few
        # matching rows by id and sorts them, rather than walking the sort's index past all
        # the problems that do not match (an OR beside it would make it do that).
        return problem.id.in_(union(ids, select(problem.id).where(problem.receipt_no == q.upper())))
    query = " & ".join("'{}'{}".format(w.replace("'", "''").replace("\\", ""), ":*" if prefix else "")
                       for w, prefix in words)
    return or_(*exact, func.to_tsvector(literal_column("'simple'"), problem.search_terms)
               .bool_op("@@")(func.to_tsquery(literal_column("'simple'"), query)))


def include_name(name, type_, _parent_names) -> bool:
    """For schema comparisons (alembic ``include_name``): leave out the FTS5 table and its
    shadow tables and PostgreSQL's index of the words, which migration 0023 makes and the models
    do not describe."""
    if type_ == "index":
        return name != "ix_problems_search"  # PostgreSQL's expression index over the words
    return not (type_ == "table" and name and name.startswith(UNMODELLED_PREFIX))

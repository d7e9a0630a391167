"""Search by number, title, name or pinyin through the index of words (``cases.search``): each
kind finds exactly its problems on SQLite (FTS5) and PostgreSQL (GIN over a tsvector), the words
follow a changed title, and the page's statements go through the index."""

import sqlalchemy as sa
from sqlalchemy import text

from tests.cases import factories as f
from tests.cases.pages import numbers
from webapp.cases import search
from webapp.core.extensions import db


def _problems() -> dict:
    return {
        "lamp": f.register(title="村内主干道路灯损坏，夜间出行不便", resident_name="孙大娘"),
        "water": f.register(title="自来水水压低，用水高峰断水", resident_name="李明"),
        "bus": f.register(title="公交站点无候车亭，雨天候车困难", resident_name="王小红"),
    }


def _found(b, q) -> set[str]:
    return set(numbers(b.get("/cases", query_string={"q": q})))


def test_the_index_exists_on_this_database(app):
    assert search._indexed(db.session)


def test_each_kind_of_search_finds_exactly_its_problems(app, login_as):
    p = _problems()
    b = login_as("office")
    num = {k: v.number for k, v in p.items()}
    cases = {
        "路灯": {"lamp"},  # two characters of the title
        "路灯损坏": {"lamp"},  # longer: every neighbouring pair
        "损坏 夜间": {"lamp"},  # two words, both
        "候车": {"bus"},
        "孙大娘": {"lamp"},  # the resident's name
        "ldsh": {"lamp"},  # pinyin initials from a syllable inside the title (路灯损坏)
        "ZLS": {"water"},  # initials of the title's start, any case
        "ludeng": {"lamp"},  # full pinyin from a syllable on
        "gongjiaozhan": {"bus"},
        "灯泡": set(),
        "xyz": set(),
    }
    for q, expected in cases.items():
        assert _found(b, q) == {num[k] for k in expected}, q
    # By number: the whole number, its digits as printed, and without the leading zeros.
    lamp = p["lamp"]
    assert _found(b, lamp.number) == {lamp.number}
    assert _found(b, f"{lamp.seq:05d}") == {lamp.number}
    assert lamp.number in _found(b, str(lamp.seq))
    assert _found(b, lamp.receipt_no.lower()) == {lamp.number}


def test_the_words_follow_a_changed_title(app, login_as):
    p = _problems()
    lamp = p["lamp"]
    lamp.title = "桥梁护栏缺失，存在安全隐患"
    db.session.commit()
    b = login_as("office")
    assert _found(b, "路灯") == set()
    assert _found(b, "护栏") == {lamp.number}
    assert _found(b, "qlhl") == {lamp.number}


def test_a_search_uses_the_index_not_a_scan(app, login_as):
    _problems()
    b = login_as("office")
    statements = []

    def keep(conn, cursor, statement, *_args):
        statements.append(statement)

    sa.event.listen(db.engine, "before_cursor_execute", keep)
    try:
        b.get("/cases", query_string={"q": "路灯"})
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", keep)
    searched = [s for s in statements if "problems" in s and ("MATCH" in s or "@@" in s)]
    assert searched, "the search did not go through the index"
    sql = searched[-1]
    if db.engine.dialect.name == "sqlite":
        plan = " ".join(str(r[-1]) for r in db.session.execute(
            text(f"EXPLAIN QUERY PLAN SELECT rowid FROM {search.FTS_TABLE} WHERE {search.FTS_TABLE} MATCH '\"路灯\"'")))
        assert "VIRTUAL TABLE INDEX" in plan, plan
    else:
        assert "to_tsvector" in sql

"""The numbered pager the register, ledger and coverage lists share: previous/next keep the filters."""

from flask import render_template_string

PAGER = '{% from "macros/pager.html" import numbered_pager %}{{ numbered_pager(ep, page, pages, args) }}'


def render(app, **ctx):
    with app.test_request_context():
        return render_template_string(PAGER, **ctx)


def test_middle_page_links_both_ways_with_the_filters(app):
    html = render(app, ep="ledger.index", page=2, pages=3, args={"village": 7, "mode": "home"})
    assert 'rel="prev" href="/visits/ledger?page=1&amp;village=7&amp;mode=home"' in html
    assert 'rel="next" href="/visits/ledger?page=3&amp;village=7&amp;mode=home"' in html
    assert "第 2 / 3 页" in html


def test_edges_and_a_single_page(app):
    first = render(app, ep="ledger.unlinked", page=1, pages=2, args={})
    assert 'rel="prev"' not in first and 'rel="next"' in first
    last = render(app, ep="ledger.unlinked", page=2, pages=2, args={})
    assert 'rel="prev"' in last and 'rel="next"' not in last
    assert render(app, ep="ledger.unlinked", page=1, pages=1, args={}).strip() == ""

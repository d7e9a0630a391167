"""Long tables on paper: the header row repeats on every page a table runs over, and a ranking
never leaves one row alone at the top or bottom of a page (checked on the PDF's text per page)."""

import re
from datetime import date

from tests.cases import factories as f
from tests.conftest import travel_to
from tests.pdfcheck import assert_print_quality, page_texts
from webapp.core.extensions import db
from webapp.core.periods import Period
from webapp.org.models import Unit, UnitKind
from webapp.stats import reports as rep

HEADER = "名次单位问题总数已化解办理中超期暂难解决化解率"
ROW = re.compile(r"测试部门\d{2}")


def test_a_long_ranking_repeats_its_header_and_never_leaves_one_row_alone(app, login_as):
    # 41 more departments: without the rule the departments' ranking ends with one row alone on
    # its last page (the A4 landscape page holds 24 of their rows).
    with travel_to(date(2026, 3, 20)):
        district = f.unit("潘安湖街道").parent
        for i in range(1, 42):
            db.session.add(Unit(name=f"测试部门{i:02d}", kind=UnitKind.department,
                                parent_id=district.id if district else None))
        report = rep.issue(f.user("office"), Period(date(2026, 3, 1), date(2026, 3, 15)))
        db.session.commit()
        report_id = report.id
    data = login_as("office").client.get(f"/stats/reports/{report_id}/report.pdf").data
    assert_print_quality(data)
    texts = page_texts(data)
    rows = [len(ROW.findall(t)) for t in texts]
    assert sum(rows) == 41 and len([n for n in rows if n]) >= 2, rows
    for n, text in zip(rows, texts, strict=True):
        if n:
            assert HEADER in text, f"the ranking's header is missing from a page with {n} of its rows"
            assert n >= 2, f"a page holds one row of the ranking alone: {rows}"

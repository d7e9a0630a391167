"""The triage page sent back with errors: one summary at the top linking each wrong field, only
the wrong fields marked, and every choice kept (the cooperating units ticked, the radios, the text)."""

import re

import pytest
import time_machine

from tests.cases import factories as f
from tests.cases.pages import MON
from tests.cases.test_triage import assign_data, page_of
from tests.cases.triage_pages import count, form_values, text
from webapp.cases.models import Assignment


@pytest.fixture
def gl(login_as):
    with time_machine.travel(MON, tick=False):
        yield login_as("grouplead")


def summary_of(page: str) -> str:
    assert page.count("data-error-summary") == 1
    start = page.index("data-error-summary")
    return page[start:page.index("</div>", start)]


def test_a_refused_assignment_lists_each_error_and_keeps_every_unit_ticked(app, gl):
    p = f.register()
    units = [f.unit(name) for name in ("大吴街道", "紫庄镇")]
    data = assign_data(gl, p, tier="joint", workdays="61", lead="", requirements="三天内答复群众",
                       cooperating=[str(u.id) for u in units])
    resp = gl.post(f"/cases/{p.id}/assign", data=data)
    page = text(resp)
    assert resp.status_code == 200 and count(Assignment) == 0
    summary = summary_of(page)
    assert page.index("data-error-summary") < page.index('name="kind"')  # at the top
    assert '<a href="#workdays">难事联办时限（工作日）：难事联办时限最长 60 个工作日' in summary
    assert '<a href="#lead">牵头单位：请选择牵头的镇（街道、功能区）。</a>' in summary
    assert "问题类别" not in summary and "问题性质" not in summary
    # Only the two wrong fields are marked.
    marked = re.findall(r'<(?:input|select|textarea)[^>]*aria-invalid="true"[^>]*>', page)
    assert sorted(re.search(r'name="([^"]+)"', m).group(1) for m in marked) == ["lead", "workdays"]
    # Everything as chosen: each cooperating unit ticked (the box open), the radios, the text.
    for u in units:
        assert re.search(rf'<input type="checkbox" name="cooperating" value="{u.id}" checked>', page)
    assert re.search(r'<details id="cooperating" class="check-box"[^>]*open', page)
    assert re.search(r'<input checked id="tier-\d" name="tier" type="radio" value="joint">', page)
    assert 'value="61"' in re.search(r'<input[^>]*name="workdays"[^>]*>', page).group(0)
    assert "三天内答复群众</textarea>" in page


def test_a_refused_merge_links_its_reason_box(app, gl):
    target, dup = f.register(), f.register()
    url = f"/cases/{dup.id}/merge"
    resp = gl.post(url, data={**form_values(page_of(gl, dup), url), "into": target.number, "reason": ""})
    page = text(resp)
    summary = summary_of(page)
    assert '<a href="#merge-reason">合并原因：请填写合并原因。</a>' in summary
    # The number typed is kept.
    assert f'value="{target.number}"' in re.search(r'<input[^>]*name="into"[^>]*>', page).group(0)


def test_an_untouched_triage_page_has_no_summary(app, gl):
    assert "data-error-summary" not in page_of(gl, f.register())

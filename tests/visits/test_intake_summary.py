"""The intake form sent back with errors: one summary at the top naming each wrong field (by its
block) with a link to it, only the wrong fields marked, and every block kept as typed."""

import re

import pytest

from tests.cases import factories as f
from tests.visits.test_intake import block, count, new_form, post, visit_fields
from webapp.cases.models import Problem
from webapp.visits.models import Visit


@pytest.fixture
def cadre(login_as):
    return login_as("cadre")


def summary_of(html: str) -> str:
    assert html.count("data-error-summary") == 1
    start = html.index("data-error-summary")
    return html[start:html.index("</div>", start)]


def test_errors_in_several_blocks_are_summarised_and_every_block_comes_back_as_typed(app, cadre):
    blocks = {
        0: {"title": "村东头路灯损坏", "address": "权台村3组", "description": "三盏路灯不亮。"},
        1: {"resident_name": "", "resident_phone": "", "address": "", "title": "", "description": ""},
        2: {"resident_name": "周某", "resident_phone": "1381234567", "title": "排水沟堵塞",
            "address": "权台村5组", "description": "雨后积水进院。", "village": str(f.unit("权台村").id),
            "category": str(f.category("医疗卫生").id)},
    }
    data = {**new_form(cadre), **visit_fields(visitors=""), "action": "save"}
    for i, values in blocks.items():
        data.update(block(i, **values))
    resp = post(cadre, "/cases/visits/new", data=data)
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200
    assert count(Visit) == 0 and count(Problem) == 0

    summary = summary_of(html)
    # At the top: before the first field of the form.
    assert html.index("data-error-summary") < html.index('name="visited_on"')
    assert '<a href="#visitors">走访人员：请填写走访人员。</a>' in summary
    assert '<a href="#block-1">问题 2：这个问题还没有填写' in summary
    assert '<a href="#problems-2-resident_phone">问题 3 · 联系电话：请填写正确的手机号' in summary
    # Problem 1 is right: nothing of it is listed.
    assert "问题 1" not in summary
    assert "提交未成功，请修改以下" in summary

    # Every block as typed (text, selects, textarea), the right ones unmarked.
    for i, values in blocks.items():
        for name in ("resident_name", "title", "address"):
            value = values.get(name, block(i)[f"problems-{i}-{name}"])
            tag = re.search(rf'<input[^>]*name="problems-{i}-{name}"[^>]*>', html).group(0)
            assert f'value="{value}"' in tag or (not value and "value=" not in tag.replace('value=""', "")), tag
        desc = values.get("description", block(i)[f"problems-{i}-description"])
        assert re.search(rf'name="problems-{i}-description"[^>]*>\s*{re.escape(desc)}</textarea>', html)
    phone = re.search(r'<input[^>]*name="problems-2-resident_phone"[^>]*>', html).group(0)
    assert 'value="1381234567"' in phone and 'aria-invalid="true"' in phone
    village = re.search(r'<select[^>]*name="problems-2-village".*?</select>', html, re.S).group(0)
    assert re.search(rf'<option selected value="{f.unit("权台村").id}"|<option value="{f.unit("权台村").id}" selected',
                     village), village
    ok_title = re.search(r'<input[^>]*name="problems-0-title"[^>]*>', html).group(0)
    assert "aria-invalid" not in ok_title
    # Marked fields: exactly the wrong ones — visitors, problem 3's phone, the empty block's four
    # required boxes (each also listed in the summary).
    assert '<a href="#problems-1-title">问题 2 · 问题标题：' in summary
    marked = re.findall(r'<(?:input|textarea|select)[^>]*aria-invalid="true"[^>]*>', html)
    names = sorted(re.search(r'name="([^"]+)"', tag).group(1) for tag in marked)
    assert names == ["problems-1-description", "problems-1-resident_name", "problems-1-resident_phone",
                     "problems-1-title", "problems-2-resident_phone", "visitors"]


def test_a_form_without_errors_has_no_summary(app, cadre):
    data = {**new_form(cadre), **visit_fields(), "action": "add", **block(0, title="第一个问题")}
    html = post(cadre, "/cases/visits/new", data=data).get_data(as_text=True)
    assert "data-error-summary" not in html

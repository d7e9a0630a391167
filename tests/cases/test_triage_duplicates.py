"""Likely duplicates on the triage page (研判交办): the district's open problems that read alike,
the town's first; merged from the hint through the ordinary merge form."""

import html
import re

import pytest
import time_machine

from tests.cases import factories as f
from tests.cases.pages import MON
from tests.cases.triage_pages import form_values, fresh, text
from webapp.cases import operations as ops
from webapp.cases.access import scope
from webapp.cases.models import Problem
from webapp.cases.workflow import Status
from webapp.core.extensions import db


@pytest.fixture
def gl(login_as):
    with time_machine.travel(MON, tick=False):
        yield login_as("grouplead")


def hints_of(page: str) -> str:
    start = page.index('id="h-duplicates"')
    return page[start:page.index("</section>", start)]


def test_alike_problems_of_the_district_are_hinted_and_one_is_merged_from_the_hint(app, gl):
    p = f.register(village="权台村", title="村东头的路灯坏了", description="三盏路灯晚上不亮。")
    near = f.register(village="马庄村", title="村东头路灯损坏", description="路灯不亮，出行不便。")
    far = f.register(village="青山泉村", title="村东头路灯损坏", description="路灯坏了。")
    ended = f.register(village="权台村", title="村东头路灯损坏了")
    ops.not_accept(ended, f.user("grouplead"), reason="重复")
    unrelated = f.register(village="权台村", title="低保申请", description="家庭困难，申请低保。")
    db.session.commit()

    page = text(gl.get(f"/cases/{p.id}/triage"))
    hints = hints_of(page)
    assert near.number in hints and far.number in hints and "青山泉镇" in hints
    assert hints.index(near.number) < hints.index(far.number)  # the town's first
    assert p.number not in hints and ended.number not in hints and unrelated.number not in hints
    # No resident data of anyone else's problem.
    assert near.resident_name not in hints and near.resident_phone[-4:] not in hints
    # Merge offered only into what the group lead sees (the merge itself checks the same).
    lead = f.user("grouplead")
    seen = set(db.session.scalars(db.select(Problem.id).where(scope(lead))))
    for other in (near, far):
        link = f"/cases/{p.id}/triage?action=merge&into="
        block = hints[hints.index(other.number):]
        block = block[:block.index("</li>")]
        assert (link in html.unescape(block)) == (other.id in seen)
    assert near.id in seen

    # The hint opens the merge form with the number filled in; the merge goes through as usual.
    url = re.search(r'href="([^"]*action=merge[^"]*)"', hints_of(gl.get(f"/cases/{p.id}/triage").get_data(
        as_text=True))).group(1)
    page = text(gl.get(html.unescape(url).split("#")[0]))
    assert re.search(r'<details class="card action-box" id="act-merge" open>', page)
    into = re.search(r'<input[^>]*name="into"[^>]*>', page).group(0)
    assert f'value="{near.number}"' in into
    merge_url = f"/cases/{p.id}/merge"
    resp = gl.post(merge_url, data={**form_values(page, merge_url), "into": near.number, "reason": "同一处路灯"})
    assert resp.status_code == 302
    assert fresh(p).status == Status.merged and fresh(p).merged_into_id == near.id


def test_no_hints_once_the_problem_is_out_of_triage_or_when_nothing_is_alike(app, gl):
    alone = f.register(village="权台村", title="低保申请", description="家庭困难，申请低保。")
    assert 'id="h-duplicates"' not in text(gl.get(f"/cases/{alone.id}/triage"))
    p = f.assigned_to_town(village="权台村", title="村东头的路灯坏了")
    f.register(village="权台村", title="村东头路灯损坏")
    assert 'id="h-duplicates"' not in text(gl.get(f"/cases/{p.id}/triage"))

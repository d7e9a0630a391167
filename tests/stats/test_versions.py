"""The statistics' data version: raised once by each committed transaction that changes what the
figures count, and by nothing else."""

from tests.cases import factories as f
from tests.handling import factories as hf
from webapp.core.extensions import db
from webapp.stats import versions


def test_a_committed_change_to_a_problem_raises_the_version_once(app):
    start = versions.current()
    p = f.register(title="村口路灯不亮")
    assert versions.current() == start + 1
    p.title = "村口路灯不亮，已两周"
    p.description = "晚上出行不便"
    db.session.flush()
    db.session.flush()  # several flushes, one transaction
    db.session.commit()
    assert versions.current() == start + 2
    hf.reply(hf.signed_off())  # sign-off, verification and the callback: each commit counts
    assert versions.current() > start + 2


def test_other_commits_and_rolled_back_changes_leave_it(app):
    p = f.register()
    start = versions.current()
    f.user("cadre").full_name = "王晓东（改）"
    db.session.commit()
    assert versions.current() == start
    p.title = "撤回的修改"
    db.session.flush()
    db.session.rollback()
    f.user("cadre").full_name = "王晓东"
    db.session.commit()  # the rolled-back change is not carried into the next transaction
    assert versions.current() == start


def test_a_bulk_write_says_so_itself(app):
    start = versions.current()
    versions.changed()
    db.session.commit()
    assert versions.current() == start + 1

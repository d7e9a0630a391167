"""Evidence photos inside the printed 销号单 and 任务书: each photo as its stored thumbnail (an image
in the PDF, not a file name) with its caption — file name, who sent it, when, the step — and a
photo never split from its caption or across pages."""

import io
import re
import subprocess
import tempfile
from pathlib import Path

import pytest
import time_machine
from PIL import Image
from sqlalchemy import select
from werkzeug.datastructures import FileStorage

from tests.cases import factories as f
from tests.cases.pages import MON
from tests.cases.triage_pages import fresh
from tests.handling import factories as hf
from tests.pdfcheck import assert_pdf, assert_print_quality, page_texts
from webapp.cases import uploads
from webapp.cases.models import Attachment, AttachmentKind
from webapp.core.extensions import db
from webapp.handling import operations as h
from webapp.handling.models import Closure
from webapp.handling.queries import book_in_force


@pytest.fixture(autouse=True)
def monday():
    with time_machine.travel(MON, tick=False):
        yield


def photo(p, user, name: str, *, colour=(200, 60, 40), closure=None, event=None) -> Attachment:
    """A JPEG stored as the upload pages store it (checked, re-encoded, thumbnail beside it)."""
    buf = io.BytesIO()
    Image.new("RGB", (640, 480), colour).save(buf, format="JPEG")
    buf.seek(0)
    checked = uploads.check(FileStorage(stream=buf, filename=name, content_type="image/jpeg"))
    stored = uploads.store(checked)
    a = Attachment(problem_id=p.id, closure_id=closure.id if closure else None, event_id=event.id if event else None,
                   kind=AttachmentKind.evidence if closure else AttachmentKind.progress, filename=checked.filename,
                   stored_name=stored.stored_name, mime=checked.mime, size=stored.size, sha256=stored.sha256,
                   uploaded_by_id=user.id)
    db.session.add(a)
    db.session.flush()
    return a


def images_per_page(data: bytes) -> dict[int, int]:
    """Page → how many images are drawn on it (poppler's pdfimages: one line per drawing)."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "doc.pdf"
        path.write_bytes(data)
        out = subprocess.run(["pdfimages", "-list", str(path)], capture_output=True, text=True, check=True).stdout
    counts: dict[int, int] = {}
    for line in out.splitlines()[2:]:
        cols = line.split()
        if cols and cols[2] == "image":
            counts[int(cols[0])] = counts.get(int(cols[0]), 0) + 1
    return counts


def signed_off_with_photos(n_closure: int):
    """A problem whose first step was ticked with a photo, then signed off with ``n_closure`` photos."""
    p = hf.in_progress()
    town = f.user("town")
    book = book_in_force(p)
    step = book.steps[0]
    event = h.tick_step(p, town, step, note="已入户核实")
    photo(p, town, "步骤现场.jpg", colour=(30, 120, 200), event=event)
    db.session.commit()
    h.request_signoff(fresh(p), town, result="已维修完毕，群众当面确认。", completed_on=MON.date(),
                      evidence_count=n_closure, no_evidence_reason=None if n_closure else "照片随步骤报送。",
                      open_parts_reason=None,
                      step_reasons=hf.open_step_reasons(fresh(p)))
    db.session.flush()
    closure = db.session.scalar(select(Closure).where(Closure.problem_id == p.id))
    for i in range(n_closure):
        photo(p, town, f"整改后照片{i + 1:02d}.jpg", colour=(40 + 10 * i, 160, 90), closure=closure)
    db.session.commit()
    return fresh(p), closure, book


def test_the_closure_report_shows_each_photo_with_its_caption(app, login_as):
    p, closure, _book = signed_off_with_photos(2)
    town = f.user("town").full_name
    resp = login_as("office").client.get(f"/cases/{p.id}/closures/{closure.id}.pdf")
    assert resp.status_code == 200
    assert_pdf(resp.data, [
        "附：佐证材料", "1.整改后照片01.jpg", "2.整改后照片02.jpg", "3.步骤现场.jpg",
        f"{town}，2026年3月2日10:00", "销号佐证", "步骤1：第1步：入户核实并落实",
    ])
    assert_print_quality(resp.data)
    # Three pictures drawn, each once (the thumbnails, not the full photos: 320 px wide at most).
    assert sum(images_per_page(resp.data).values()) == 3
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "doc.pdf"
        path.write_bytes(resp.data)
        listing = subprocess.run(["pdfimages", "-list", str(path)], capture_output=True, text=True).stdout
    widths = [int(line.split()[3]) for line in listing.splitlines()[2:] if line.split()[2] == "image"]
    assert widths and max(widths) <= 320


def test_many_photos_never_split_from_their_captions_or_across_pages(app, login_as):
    p, closure, _book = signed_off_with_photos(16)
    data = login_as("office").client.get(f"/cases/{p.id}/closures/{closure.id}.pdf").data
    report = assert_pdf(data, ["附：佐证材料", "16.整改后照片16.jpg", "17.步骤现场.jpg"])
    assert report.pages >= 2
    assert_print_quality(data)
    drawn = images_per_page(data)
    texts = page_texts(data)
    # Each page shows exactly as many pictures as captions: no caption without its picture, no
    # picture drawn twice (split across a page break).
    town = re.escape(f.user("town").full_name)  # a caption, not the file list in the form above
    captions = [len(re.findall(rf"\d+\.(?:整改后照片\d+|步骤现场)\.jpg{town}，", t)) for t in texts]
    assert [drawn.get(i + 1, 0) for i in range(len(texts))] == captions
    assert sum(captions) == 17


def test_the_task_book_shows_each_step_s_photos(app, login_as):
    p, _closure, book = signed_off_with_photos(0)
    data = login_as("office").client.get(f"/cases/{p.id}/task-books/{book.id}.pdf").data
    assert_pdf(data, ["附：步骤完成佐证", "1.步骤现场.jpg", "步骤1：第1步：入户核实并落实",
                      f"{f.user('town').full_name}，2026年3月2日10:00"])
    assert_print_quality(data)
    assert sum(images_per_page(data).values()) == 1

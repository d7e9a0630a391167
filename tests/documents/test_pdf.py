"""Printed documents: Chinese text extracts, the CJK font is embedded and subset, nothing is
fetched from outside static/, and WeasyPrint's warnings fail the render."""

import logging
import statistics
from datetime import date
from urllib.parse import unquote

import pytest

from tests.pdfcheck import assert_pdf, read_pdf
from webapp.documents.pdf import PdfRenderError, pdf_response, render_document, render_pdf

NOTICE = {
    "issuer": "贾汪区“百千万”集中走访帮扶活动办公室",
    "doc_number": "贾走访交〔2026〕0001号",
    "doc_title": "关于交办群众反映问题的通知",
    "village": "潘安湖街道权台村",
    "deadline": date(2026, 10, 12),
    "issued_on": date(2026, 9, 28),
}


def test_sample_notice_renders_with_chinese_text_and_embedded_font(app):
    data = render_pdf("sample", **NOTICE)
    report = assert_pdf(
        data,
        [
            "贾汪区“百千万”集中走访帮扶活动办公室",
            "贾走访交〔2026〕0001号",
            "关于交办群众反映问题的通知",
            "潘安湖街道权台村",
            "请于2026年10月12日前办结",
            "2026年9月28日",
            "第 1 页 共 1 页",
        ],
    )
    assert report.pages == 1
    # Regular body and bold title, both Simplified-Chinese Noto Serif, both subset.
    names = sorted(f.family_key for f in report.fonts)
    assert names == ["NotoSerifCJKSC", "NotoSerifCJKSCBold"], names


def test_sample_notice_logs_no_warnings(app):
    result = render_document("sample", **NOTICE)
    assert result.warnings == []
    assert not any(".notdef" in w for w in result.warnings)


def test_missing_glyph_fails_the_render(app):
    # U+E000 (private use) is in no installed font: WeasyPrint draws .notdef and logs it.
    with pytest.raises(PdfRenderError) as exc:
        render_pdf("sample", **NOTICE, extra_paragraphs=["生僻字\ue000"])
    assert any(".notdef glyph rendered" in w for w in exc.value.warnings)
    assert exc.value.data.startswith(b"%PDF-")  # the PDF is still there for whoever wants it


def test_capture_survives_a_disabled_weasyprint_logger(app):
    # logging.config.fileConfig (Alembic's env.py) disables existing loggers by default.
    logging.getLogger("weasyprint").disabled = True
    with pytest.raises(PdfRenderError):
        render_pdf("sample", **NOTICE, extra_paragraphs=["\ue000"])


def test_missing_glyph_is_logged_not_raised_when_not_strict(app, caplog):
    app.config["PDF_STRICT"] = False
    data = render_pdf("sample", **NOTICE, extra_paragraphs=["\ue000"])
    assert data.startswith(b"%PDF-")
    assert any(".notdef" in r.getMessage() for r in caplog.records if r.name == app.logger.name)


@pytest.mark.parametrize(
    "reference",
    [
        {"image": "http://example.com/logo.png"},
        {"image": "https://example.com/logo.png"},
        {"image": "file:///etc/passwd"},
        {"image": "file://otherhost/static/x.png"},
        {"stylesheet": "../../../../../../etc/passwd"},
        {"stylesheet": "http://127.0.0.1:9/evil.css"},
    ],
)
def test_url_fetcher_refuses_anything_outside_static(app, reference):
    result = render_document("sample", **NOTICE, **reference)
    assert result.warnings, "the reference was not refused"
    assert all("RefusedURL" in w for w in result.warnings), result.warnings
    with pytest.raises(PdfRenderError):
        render_pdf("sample", **NOTICE, **reference)


def test_url_fetcher_serves_static_files_and_data_uris(app, tmp_path):
    # A static stylesheet (print.css itself) and a data: image are allowed.
    pixel = (
        "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR4nGNgYGD4"
        "DwABBAEAwS2OUAAAAABJRU5ErkJggg=="
    )
    result = render_document("sample", **NOTICE, image=pixel, stylesheet="css/print.css")
    assert result.warnings == []


def test_bad_template_names_are_refused(app):
    with pytest.raises(ValueError):
        render_pdf("../base")


def test_pdf_response_headers(app):
    resp = pdf_response(b"%PDF-1.7 test", "问题交办单 贾走访交〔2026〕0001号")
    assert resp.mimetype == "application/pdf"
    disposition = resp.headers["Content-Disposition"]
    assert disposition.startswith("inline; ")
    assert 'filename="20260001.pdf"' in disposition  # ASCII fallback for old clients
    encoded = disposition.split("filename*=UTF-8''", 1)[1]
    assert " " not in encoded and unquote(encoded) == "问题交办单 贾走访交〔2026〕0001号.pdf"
    assert resp.headers["Cache-Control"] == "no-store"
    assert pdf_response(b"", "x.pdf", download=True).headers["Content-Disposition"].startswith(
        "attachment; filename=\"x.pdf\"; filename*=UTF-8''x.pdf"
    )
    assert 'filename="document.pdf"' in pdf_response(b"", "交办单.pdf").headers["Content-Disposition"]


def test_time_per_page(app, capsys):
    render_document("sample", **NOTICE)  # warm: fonts loaded, caches filled
    paragraphs = [
        "坚持属地管理、分级负责，做到一户不漏、一企不落，事事有着落、件件有回音。" * 6
    ] * 40
    timings = []
    for _ in range(3):
        result = render_document("sample", **NOTICE, extra_paragraphs=paragraphs)
        assert result.warnings == []
        timings.append(result.seconds / result.pages)
    pages = read_pdf(result.data).pages
    assert pages == result.pages and pages > 3
    with capsys.disabled():
        print(
            f"\n[pdf] sample notice, {pages} pages: median {statistics.median(timings) * 1000:.0f} ms"
            f" per page (runs: {', '.join(f'{t * 1000:.0f}' for t in timings)} ms/page)"
        )

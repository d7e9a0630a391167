"""Printed documents: A4 PDFs with the official look, rendered by WeasyPrint.

``render_pdf("assignment_sheet", case=…)`` renders ``templates/print/assignment_sheet.html``
(which extends ``print/base.html`` and links ``static/css/print.css``) and returns the bytes.

Safety: the URL fetcher reads only files under the project's ``static/`` folder and ``data:``
URIs. Everything else (http, https, ftp, any other local file) is refused, so a document can
never reach the network or leak a server file, whatever text ends up in it.

Quality: WeasyPrint reports problems only in its log (a missing glyph is drawn as an empty box
and logged as ``.notdef glyph rendered``; a refused or broken image is logged as an error).
Every render captures those records. ``render_document`` returns them with the PDF;
``render_pdf`` raises ``PdfRenderError`` on any of them when ``PDF_STRICT`` is on (the default
under ``TESTING``), and otherwise logs them on the app logger and returns the PDF, so that a
resident's rare character never stops an office from printing.
"""

from __future__ import annotations

import logging
import mimetypes
import os
import re
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from urllib.parse import quote
from urllib.request import url2pathname

from flask import Response, current_app, render_template

WEASYPRINT_LOGGER = "weasyprint"
PDF_MIME = "application/pdf"


class PdfRenderError(RuntimeError):
    """WeasyPrint reported problems while rendering (``.warnings``); ``.data`` holds the PDF."""

    def __init__(self, template: str, warnings: list[str], data: bytes | None = None):
        self.template = template
        self.warnings = warnings
        self.data = data
        super().__init__(f"print/{template}.html: " + "; ".join(warnings))


class RefusedURL(ValueError):  # noqa: N818 - reads as the reason WeasyPrint logs
    """A document referenced something outside ``static/``."""


@dataclass
class RenderedPdf:
    data: bytes
    pages: int
    seconds: float
    warnings: list[str] = field(default_factory=list)


def static_root() -> Path:
    return Path(current_app.static_folder).resolve()


def _make_fetcher(root: Path):
    """A WeasyPrint URL fetcher that serves ``data:`` URIs and files under ``root`` only."""
    from weasyprint.urls import URLFetcher, URLFetcherResponse

    class StaticOnlyFetcher(URLFetcher):
        def __init__(self):
            # No network handlers are ever used: only data: goes to the parent class.
            super().__init__(allowed_protocols={"data", "file"}, allow_redirects=False)

        def fetch(self, url, headers=None):
            scheme = url.split(":", 1)[0].lower() if ":" in url else ""
            if scheme == "data":
                return super().fetch(url, headers)
            if scheme != "file":
                raise RefusedURL(f"refused (only static files and data: URIs): {url}")
            raw = url[len("file:"):].split("?", 1)[0].split("#", 1)[0]
            if raw.startswith("//"):
                host, _, raw = raw[2:].partition("/")
                if host not in ("", "localhost"):
                    raise RefusedURL(f"refused (remote file host): {url}")
                raw = "/" + raw
            path = Path(os.path.realpath(url2pathname(raw)))
            if not path.is_relative_to(root) or not path.is_file():
                raise RefusedURL(f"refused (outside static/ or missing): {url}")
            mime = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
            return URLFetcherResponse(path.as_uri(), path.read_bytes(), {"Content-Type": mime})

    return StaticOnlyFetcher()


class _Capture(logging.Handler):
    """Collects WeasyPrint's warnings and errors emitted by this thread."""

    def __init__(self):
        super().__init__(logging.WARNING)
        self.thread = threading.get_ident()
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.thread == self.thread:
            self.messages.append(record.getMessage())


@contextmanager
def capture_weasyprint_log():
    """Yield the list that receives WeasyPrint's warnings logged during the block."""
    logger = logging.getLogger(WEASYPRINT_LOGGER)
    # A logging.config call elsewhere may have disabled or quietened this logger: the capture
    # is how missing glyphs are caught, so make sure warnings reach it.
    logger.disabled = False
    if logger.getEffectiveLevel() > logging.WARNING:
        logger.setLevel(logging.WARNING)
    handler = _Capture()
    logger.addHandler(handler)
    try:
        yield handler.messages
    finally:
        logger.removeHandler(handler)


def cn_date(value: date | datetime | None) -> str:
    """``2026年10月8日`` (Arabic numerals, as GB/T 9704 writes the date of a document)."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        from webapp.core.clock import local

        value = local(value).date()
    return f"{value.year}年{value.month}月{value.day}日"


def render_document(template_name: str, /, **context) -> RenderedPdf:
    """Render ``templates/print/<template_name>.html``; return the PDF with the captured warnings."""
    from weasyprint import HTML

    if not re.fullmatch(r"[a-z0-9_]+", template_name):
        raise ValueError(f"bad print template name: {template_name!r}")
    root = static_root()
    context.setdefault("cn_date", cn_date)
    started = time.perf_counter()
    html = render_template(f"print/{template_name}.html", **context)
    with capture_weasyprint_log() as warnings:
        document = HTML(
            string=html, base_url=root.as_uri() + "/", url_fetcher=_make_fetcher(root)
        ).render()
        data = document.write_pdf()
    return RenderedPdf(
        data=data,
        pages=len(document.pages),
        seconds=time.perf_counter() - started,
        warnings=list(warnings),
    )


def render_documents(parts: list[tuple[str, dict]], *, progress=None) -> RenderedPdf:
    """Render several print templates, each as its own document, into one PDF (a packet).

    ``parts``: ``(template_name, context)`` pairs, in order. Every part keeps its own page
    layout (the pages are put together after rendering). The same capture and strict rule as
    ``render_pdf``: with ``PDF_STRICT`` a warning raises ``PdfRenderError``; otherwise it is
    logged and returned with the PDF. ``progress(done, total)``, when given, is called after
    each part (a background job's progress bar).
    """
    from weasyprint import HTML
    from weasyprint.text.fonts import FontConfiguration

    if not parts:
        raise ValueError("no documents to render")
    for name, _ctx in parts:
        if not re.fullmatch(r"[a-z0-9_]+", name):
            raise ValueError(f"bad print template name: {name!r}")
    root = static_root()
    fetcher = _make_fetcher(root)
    started = time.perf_counter()
    documents = []
    fonts = FontConfiguration()  # one font set-up shared by every part
    with capture_weasyprint_log() as warnings:
        for n, (name, ctx) in enumerate(parts, start=1):
            html = render_template(f"print/{name}.html", **{"cn_date": cn_date, **ctx})
            documents.append(HTML(string=html, base_url=root.as_uri() + "/", url_fetcher=fetcher)
                             .render(font_config=fonts))
            if progress is not None:
                progress(n, len(parts))
        pages = [page for document in documents for page in document.pages]
        data = documents[0].copy(pages).write_pdf()
    result = RenderedPdf(data=data, pages=len(pages), seconds=time.perf_counter() - started,
                         warnings=list(warnings))
    if result.warnings:
        names = "+".join(dict.fromkeys(name for name, _ctx in parts))
        if current_app.config.get("PDF_STRICT", current_app.testing):
            raise PdfRenderError(names, result.warnings, result.data)
        current_app.logger.warning("PDF print/%s.html rendered with problems: %s", names, "; ".join(result.warnings))
    return result


def render_pdf(template_name: str, /, **context) -> bytes:
    """Render ``templates/print/<template_name>.html`` to PDF bytes.

    Raises ``PdfRenderError`` when WeasyPrint logged a warning (missing glyph, refused URL, bad
    CSS) and ``PDF_STRICT`` is on (default: on under ``TESTING``); otherwise logs them.
    """
    result = render_document(template_name, **context)
    if result.warnings:
        if current_app.config.get("PDF_STRICT", current_app.testing):
            raise PdfRenderError(template_name, result.warnings, result.data)
        current_app.logger.warning(
            "PDF print/%s.html rendered with problems: %s", template_name, "; ".join(result.warnings)
        )
    return result.data


def _ascii_fallback(filename: str) -> str:
    stem, dot, ext = filename.rpartition(".")
    stem = re.sub(r"[^A-Za-z0-9._-]+", "", stem if dot else filename).strip("._-")
    return f"{stem or 'document'}.pdf"


def pdf_response(data: bytes, filename: str, *, download: bool = False) -> Response:
    """Send a PDF (inline by default) with its UTF-8 file name (RFC 5987 / RFC 6266)."""
    if not filename.lower().endswith(".pdf"):
        filename += ".pdf"
    disposition = "attachment" if download else "inline"
    resp = Response(data, mimetype=PDF_MIME)
    resp.headers["Content-Disposition"] = (
        f'{disposition}; filename="{_ascii_fallback(filename)}"; '
        f"filename*=UTF-8''{quote(filename, safe='')}"
    )
    resp.headers["Cache-Control"] = "no-store"
    resp.headers["X-Content-Type-Options"] = "nosniff"
    return resp

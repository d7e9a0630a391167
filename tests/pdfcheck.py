"""Assertions on generated PDFs: the text is there, and a Chinese font is embedded and subset.

A missing CJK font fails silently (empty boxes that still extract as text), so checking the text
alone proves nothing: ``assert_pdf`` also checks the fonts the PDF carries.
"""

import io
import re
from dataclasses import dataclass

from pypdf import PdfReader
from pypdf.generic import DictionaryObject, IndirectObject

SUBSET_RE = re.compile(r"^[A-Z]{6}\+(.+)$")
FONT_FILES = ("/FontFile", "/FontFile2", "/FontFile3")


@dataclass
class PdfFont:
    name: str  # BaseFont without the leading slash, e.g. "LWGGBP+Noto-Serif-CJK-SC"
    embedded: bool

    @property
    def subset(self) -> bool:
        return SUBSET_RE.match(self.name) is not None

    @property
    def family_key(self) -> str:
        """The name without subset tag, hyphens or spaces: "NotoSerifCJKSC"."""
        m = SUBSET_RE.match(self.name)
        return re.sub(r"[-\s]", "", m.group(1) if m else self.name)


@dataclass
class PdfReport:
    text: str
    pages: int
    fonts: list[PdfFont]


def _resolve(obj):
    return obj.get_object() if isinstance(obj, IndirectObject) else obj


def _descriptor(font: DictionaryObject) -> DictionaryObject | None:
    if "/FontDescriptor" in font:
        return _resolve(font["/FontDescriptor"])
    for descendant in _resolve(font.get("/DescendantFonts", [])) or []:
        descriptor = _descriptor(_resolve(descendant))
        if descriptor is not None:
            return descriptor
    return None


def _fonts_in(resources, seen: set, out: dict) -> None:
    resources = _resolve(resources)
    if not isinstance(resources, DictionaryObject) or id(resources) in seen:
        return
    seen.add(id(resources))
    for font in (_resolve(resources.get("/Font")) or {}).values():
        font = _resolve(font)
        descriptor = _descriptor(font)
        embedded = descriptor is not None and any(k in descriptor for k in FONT_FILES)
        name = str(font.get("/BaseFont", "")).lstrip("/")
        out[name] = PdfFont(name, embedded)
    # Form XObjects (and patterns) carry their own resources.
    for xobject in (_resolve(resources.get("/XObject")) or {}).values():
        xobject = _resolve(xobject)
        if "/Resources" in xobject:
            _fonts_in(xobject["/Resources"], seen, out)


def read_pdf(data: bytes) -> PdfReport:
    assert data[:5] == b"%PDF-", "not a PDF"
    reader = PdfReader(io.BytesIO(data))
    fonts: dict[str, PdfFont] = {}
    seen: set = set()
    texts = []
    for page in reader.pages:
        texts.append(page.extract_text() or "")
        if "/Resources" in page:
            _fonts_in(page["/Resources"], seen, fonts)
    return PdfReport(text="\n".join(texts), pages=len(reader.pages), fonts=list(fonts.values()))


def _squash(text: str) -> str:
    return re.sub(r"\s+", "", text)


def assert_pdf(data: bytes, must_contain: list[str], *, font: str = "NotoSerifCJK") -> PdfReport:
    """Assert each string is in the PDF's text (whitespace ignored: extraction breaks lines),
    that a font whose name starts with ``font`` is embedded and subset, and that every font is
    embedded. Returns the report for further checks."""
    report = read_pdf(data)
    text = _squash(report.text)
    missing = [s for s in must_contain if _squash(s) not in text]
    assert not missing, f"not in the PDF text: {missing}\n--- text ---\n{report.text}"
    assert report.fonts, "the PDF has no fonts"
    not_embedded = [f.name for f in report.fonts if not f.embedded]
    assert not not_embedded, f"fonts not embedded: {not_embedded}"
    cjk = [f for f in report.fonts if f.family_key.startswith(font)]
    assert cjk, f"no {font}… font in the PDF; fonts: {[f.name for f in report.fonts]}"
    assert all(f.subset for f in cjk), f"CJK font not subset: {[f.name for f in cjk]}"
    return report


def page_texts(data: bytes) -> list[str]:
    """The text of each page, whitespace removed (extraction breaks lines anywhere)."""
    return [_squash(page.extract_text() or "") for page in PdfReader(io.BytesIO(data)).pages]


ISO_DATE = re.compile(r"\d{4}-\d{1,2}-\d{1,2}")
PADDED_CN_DATE = re.compile(r"\d{4}年0\d月|月0\d日")
FOOTER = re.compile(r"第(\d+)页共(\d+)页")


def assert_print_quality(data: bytes, *, min_last_page: int = 60) -> list[str]:
    """What every printed document owes its reader: "第 N 页 共 M 页" on every page, dates
    written one way (2026年12月6日: neither 2026-12-06 nor 2026年03月02日), and no near-empty
    last page (a signature block left alone). Returns the pages' texts."""
    pages = page_texts(data)
    total = len(pages)
    for n, text in enumerate(pages, 1):
        assert f"第{n}页共{total}页" in text, f"page {n}: no page number 第 {n} 页 共 {total} 页\n{text}"
        assert not ISO_DATE.search(text), f"page {n}: a date not written 2026年12月6日: {ISO_DATE.search(text)}"
        assert not PADDED_CN_DATE.search(text), f"page {n}: a zero-padded date: {PADDED_CN_DATE.search(text)}"
    if total > 1:
        body = FOOTER.sub("", pages[-1])
        assert len(body) >= min_last_page, f"the last page is nearly empty ({len(body)} characters): {body}"
    return pages

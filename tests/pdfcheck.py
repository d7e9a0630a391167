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

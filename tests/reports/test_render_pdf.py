"""PDF reports turned into PNGs with poppler's pdftoppm: pages are not blank in either
language, Chinese text is really there, and the CJK font in use is named in the metadata."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from PIL import Image

from reports import render_pdf
from reports.database import open_database
from reports.deadlines import Regimes
from reports.incident import IncidentEvent
from reports.incident_store import IncidentStore
from reports.render import ReportRenderer
from reports.render_pdf import resolve_cjk_font

POPPLER = shutil.which("pdftoppm")
pytestmark = pytest.mark.skipif(
    POPPLER is None, reason="pdftoppm (poppler-utils) is not installed: `make install` "
                            "or apt-get install poppler-utils")

TITLES = {"en": "Personal information security incident report", "zh": "个人信息安全事件报告"}


@pytest.fixture
def report(tmp_path):
    db = open_database(f"sqlite:///{tmp_path / 'r.db'}")
    store = IncidentStore(db, regimes=Regimes(cac_large_subjects=1000))
    incident, _ = store.record(IncidentEvent(
        kind="leak_detected", severity="critical", rule="pii_mask.no_pii_route",
        dedup_key="leak:1", summary="identifiers in a response declared PII-free",
        route="crm", actor="hmac:3f9a0c21d4e5b6a7", categories={"CN_RESIDENT_ID": 4000},
        record_count=4000, subject_count=4000, masked=False, breach=True,
        evidence={"response_sha256": "ab" * 32}))
    store.change(incident.id, "grace", "note", {"note": "已通知上游团队 (upstream told)"})

    def make(lang: str, renderer: ReportRenderer | None = None) -> Path:
        body, content_type = (renderer or ReportRenderer(db))(
            incident, store.actions(incident.id), "pdf", lang)
        assert content_type == "application/pdf" and body.startswith(b"%PDF-")
        path = tmp_path / f"report-{lang}.pdf"
        path.write_bytes(body)
        return path

    yield make
    db.close()


def run(*argv: str) -> str:
    return subprocess.run(argv, capture_output=True, text=True, check=True, timeout=60).stdout


def pages_as_png(pdf: Path) -> list[Path]:
    run(str(POPPLER), "-r", "40", "-png", str(pdf), str(pdf.with_suffix("")))
    return sorted(pdf.parent.glob(pdf.stem + "-*.png"))


def ink(png: Path) -> float:
    """The share of pixels that are clearly not white."""
    image = Image.open(png).convert("L")
    histogram = image.histogram()
    return sum(histogram[:160]) / (image.width * image.height)


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_every_page_has_ink_and_the_text_is_extractable(report, lang):
    pdf = report(lang)
    pages = pages_as_png(pdf)
    assert len(pages) >= 2
    for page in pages:
        assert ink(page) > 0.002, f"{page.name} looks blank"
    if shutil.which("pdftotext"):
        text = run("pdftotext", "-enc", "UTF-8", str(pdf), "-")
        assert TITLES[lang] in text
        assert "履行个人信息" in text  # the PIPL recipient (a table cell), in both languages
        assert "已通知上游团队" in text


def test_the_cjk_font_is_embedded_and_named_in_the_metadata(report):
    font = resolve_cjk_font()
    if font.path is None:
        pytest.skip("no TrueType CJK font on this machine (e.g. apt-get install "
                    "fonts-wqy-zenhei): reports fall back to STSong-Light")
    pdf = report("zh")
    keywords = run("pdfinfo", str(pdf))
    assert f"cjk-font: {font.family} (embedded subset of {font.path})" in keywords
    fonts = run("pdffonts", str(pdf))
    cjk = [line for line in fonts.splitlines() if font.family.replace(" ", "") in line]
    assert cjk and all(" yes " in line for line in cjk)


def test_built_in_cid_font_when_no_truetype_font_is_found(report, monkeypatch, tmp_path):
    # Hide the machine's fonts: the only fake here is the font search coming up empty.
    monkeypatch.setattr(render_pdf, "_known_fonts", lambda: iter(()))
    monkeypatch.setattr(render_pdf, "_fontconfig_fonts", lambda: iter(()))
    broken = tmp_path / "broken.ttf"
    broken.write_bytes(b"not a font")
    font = resolve_cjk_font(str(broken))
    assert (font.name, font.path) == ("STSong-Light", None)
    pdf = report("zh", ReportRenderer(None, cjk_font=str(broken)))
    assert "cjk-font: STSong-Light (ReportLab built-in CID font, not embedded)" in run(
        "pdfinfo", str(pdf))
    assert "STSong-Light" in run("pdffonts", str(pdf))
    assert all(ink(page) > 0.002 for page in pages_as_png(pdf))

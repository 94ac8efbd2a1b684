"""detectors.formats.html: a rewriter that changes nothing but masked text and attributes."""

from __future__ import annotations

import html
import re
from html.parser import HTMLParser

import pytest

from detectors.formats.html import mask_html
from gateway.demo.data import generate_customers, pii_values

CUSTOMERS = generate_customers("proj1", 40, 7)
SCRIPT = ("<script>var phone = '13812345678'; if (a < b && c) { x = \"王小明\"; }"
          "</script>")
STYLE = "<style>/* 13812345678 */ td > b { color: red }</style>"
TAG = re.compile(r"<[^>]*>")
DATA_PHONE = re.compile(r"data-phone=\"[^\"]*\"")


def demo_page(customers) -> str:
    """The demo CRM's customer page, as gateway/demo/crm.py renders it."""
    rows = "\n".join(
        f'<tr data-phone="{html.escape(c.phone)}">'
        + "".join(f"<td>{html.escape(v)}</td>"
                  for v in (c.customer_no, c.name, c.phone, c.email, c.grade))
        + "</tr>"
        for c in customers
    )
    return (
        '<!DOCTYPE html>\n<html lang="zh-CN"><head><meta charset="utf-8">'
        f"<title>Customers</title>{STYLE}</head>\n<body><h1>Customers</h1>\n"
        '<table id="customers">\n<thead><tr><th>customer_no</th><th>name</th><th>phone</th>'
        f"<th>email</th><th>grade</th></tr></thead>\n<tbody>\n{rows}\n</tbody></table>\n"
        f"{SCRIPT}\n</body></html>\n"
    )


def tags_without_data_phone(source: str) -> list[str]:
    return [DATA_PHONE.sub("data-phone", tag) for tag in TAG.findall(source)]


def events(source: str) -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []

    class Recorder(HTMLParser):
        def handle_starttag(self, tag, attrs):
            found.append(("start", tag))

        def handle_endtag(self, tag):
            found.append(("end", tag))

    Recorder().feed(source)
    return found


def test_demo_page_is_masked_and_markup_is_identical(engine):
    page = demo_page(CUSTOMERS)
    out = mask_html(page, engine.masker(roles=()))
    for customer in CUSTOMERS:
        raw = [v for values in pii_values(customer).values() for v in values]
        assert not [v for v in raw if v in out or html.escape(v) in out]
        assert f"<td>{customer.customer_no}</td>" in out
        assert f"<td>{customer.grade}</td>" in out
    assert tags_without_data_phone(out) == tags_without_data_phone(page)
    assert events(out) == events(page)
    assert SCRIPT in out and STYLE in out


def test_page_without_pii_is_byte_identical(engine):
    page = ("<!doctype html><html><!-- build 42 --><body class=x>"
            "<p title='hello'>A &amp; B &lt;ok&gt; &nbsp;&#169;</p><br/>"
            "<![CDATA[x]]><?php echo 1; ?></body></html>")
    assert mask_html(page, engine.masker(roles=())) == page


@pytest.mark.parametrize("tag", ["script", "style"])
def test_script_and_style_are_never_touched(engine, tag):
    page = f"<p>x</p><{tag} data-x=1>13812345678 王小明 a<b&amp;</{tag}><p>13812345678</p>"
    out = mask_html(page, engine.masker(roles=()))
    assert f"<{tag} data-x=1>13812345678 王小明 a<b&amp;</{tag}>" in out
    assert out.count("13812345678") == 1


def test_th_header_works_as_a_hint_and_links_the_row(engine):
    with_header = ("<table><tr><th>姓名</th><th>备注</th></tr>"
                   "<tr><td>王小明</td><td>王小明来电，要求退款</td></tr></table>")
    without = "<table><tr><td>王小明</td><td>来电</td></tr></table>"
    assert "王小明" not in mask_html(with_header, engine.masker(roles=()))
    assert "王小明" in mask_html(without, engine.masker(roles=()))


def test_row_header_keys_a_vertical_table(engine):
    page = "<table><tr><th>客户姓名</th><td><b>王小明</b></td></tr></table>"
    assert "王小明" not in mask_html(page, engine.masker(roles=()))


def test_entities_survive_around_masked_text(engine):
    page = "<p>A &amp; B, call 13812345678 &lt;now&gt; &copy;&#169;&#xA9; x&nbsp;y</p>"
    out = mask_html(page, engine.masker(roles=()))
    assert "13812345678" not in out
    assert out.startswith("<p>A &amp; B, call ")
    assert out.endswith(" &lt;now&gt; &copy;&#169;&#xA9; x&nbsp;y</p>")


def test_attributes_are_masked_in_their_own_quoting(engine):
    page = ("<form><input name=phone value=13812345678>"
            "<input name='mobile' value='13912345678' placeholder=\"手机 13712345678\">"
            "<img alt=\"13612345678 &amp; co\" src=\"/a/13512345678.png\"></form>")
    out = mask_html(page, engine.masker(roles=()))
    for phone in ("13812345678", "13912345678", "13712345678", "13612345678"):
        assert phone not in out
    assert 'src="/a/13512345678.png"' in out
    assert re.search(r"<input name=phone value=[^\s\"'>]+>", out)
    assert re.search(r"value='[^']+' placeholder=\"手机 [^\"]+\"", out)
    assert "&amp; co\"" in out


def test_comments_are_masked(engine):
    out = mask_html("<p>x</p><!-- debug 13812345678 --><p>y</p>", engine.masker(roles=()))
    assert out.startswith("<p>x</p><!-- debug ") and out.endswith(" --><p>y</p>")
    assert "13812345678" not in out


def test_unclosed_markup_is_still_masked(engine):
    out = mask_html("<table><tr><th>phone<td>13812345678<tr><td>13912345678",
                    engine.masker(roles=()))
    assert "13812345678" not in out and "13912345678" not in out


def test_script_bodies_are_a_counted_blind_spot(engine):
    from detectors.formats.html import mask_html

    masker = engine.masker(())
    page = '<p>手机13812345678</p><script type="application/json">{"p":"13987654321"}</script>'
    out = mask_html(page, masker)
    assert "138****5678" in out
    assert '{"p":"13987654321"}' in out
    assert masker.report.skipped == {"html_script": 1}

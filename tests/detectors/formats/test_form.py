"""detectors.formats.form: URL-encoded bodies keep order, blanks and untouched bytes."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode

import pytest

from detectors.formats.errors import FormatError
from detectors.formats.form import mask_form
from gateway.demo.data import generate_customers, non_pii_values, pii_values

CUSTOMERS = generate_customers("proj2", 20, 3)


@pytest.mark.parametrize("customer", CUSTOMERS, ids=lambda c: f"customer-{c.id}")
def test_demo_customer_form_round_trip(engine, customer):
    record = customer.to_dict()
    record["amount"] = f"{customer.amount:.2f}"
    data = urlencode(record).encode()
    pairs = parse_qsl(mask_form(data, engine.masker(roles=())).decode(),
                      keep_blank_values=True, strict_parsing=True)
    assert [key for key, _ in pairs] == list(record)
    text = "\n".join(value for _, value in pairs)
    assert not [v for values in pii_values(customer).values() for v in values if v in text]
    assert all(value in text for value in non_pii_values(customer))


def test_order_blanks_and_bare_keys_are_kept(engine):
    data = b"b=1&empty=&flag&phone=138%201234%205678&a=x+y&note=%E7%8E%8B"
    out = mask_form(data, engine.masker(roles=()))
    assert out.startswith(b"b=1&empty=&flag&phone=")
    assert out.endswith(b"&a=x+y&note=%E7%8E%8B")
    assert b"5678" in out and b"1234" not in out


def test_name_field_links_to_the_message(engine):
    data = urlencode({"姓名": "王小明", "留言": "王小明要求退款"}).encode()
    out = mask_form(data, engine.masker(roles=())).decode()
    assert "王小明" not in "".join(v for _, v in parse_qsl(out))


def test_gbk_form(engine):
    data = urlencode({"name": "王小明", "phone": "13812345678"}, encoding="gbk").encode()
    out = mask_form(data, engine.masker(roles=()), charset="gbk")
    values = dict(parse_qsl(out.decode(), encoding="gbk"))
    assert values["name"] != "王小明" and "13812345678" not in values["phone"]


def test_form_without_values_is_returned_as_is(engine):
    assert mask_form(b"a&b&c", engine.masker(roles=())) == b"a&b&c"


@pytest.mark.parametrize(("data", "charset"), [(b"phone=%FF%FE", "utf-8"),
                                               (b"phone=\xff", "utf-8"),
                                               (b"phone=1", "no-such-charset")])
def test_undecodable_forms_raise(engine, data, charset):
    with pytest.raises(FormatError):
        mask_form(data, engine.masker(roles=()), charset)

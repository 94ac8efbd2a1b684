"""Synthetic customers: determinism, checksums, negative controls and PII ground truth."""

from __future__ import annotations

import datetime as dt
import json
import re
from collections import Counter

import pytest

import gateway.demo
from gateway.demo import (
    CSV_FIELDS,
    Customer,
    demo_users,
    generate_customers,
    non_pii_values,
    pii_values,
)

GB11643_WEIGHTS = [2 ** (17 - i) % 11 for i in range(17)]
KNOWN_REGIONS = {
    "110105", "110108", "310104", "310106", "440305",
    "440106", "510107", "330106", "320102", "420106",
}


def gb11643_valid(number: str) -> bool:
    if not re.fullmatch(r"\d{17}[\dX]", number):
        return False
    total = sum(int(d) * w for d, w in zip(number[:17], GB11643_WEIGHTS, strict=True))
    expected = (12 - total % 11) % 11
    return number[17] == ("X" if expected == 10 else str(expected))


def resident_id_valid(number: str) -> bool:
    if not gb11643_valid(number):
        return False
    try:
        dt.datetime.strptime(number[6:14], "%Y%m%d")
    except ValueError:
        return False
    return True


def luhn_valid(number: str) -> bool:
    digits = [int(d) for d in reversed(number)]
    total = sum(digits[0::2]) + sum(sum(divmod(2 * d, 10)) for d in digits[1::2])
    return total % 10 == 0


def ssn_valid(ssn: str) -> bool:
    match = re.fullmatch(r"(\d{3})-(\d{2})-(\d{4})", ssn)
    if not match:
        return False
    area, group, serial = match.groups()
    return area not in {"000", "666"} and area[0] != "9" and group != "00" and serial != "0000"


@pytest.fixture(scope="module")
def customers() -> list[Customer]:
    return generate_customers("proj1", 300, 7)


def zh(customers: list[Customer]) -> list[Customer]:
    return [c for c in customers if c.gender in {"男", "女"}]


def en(customers: list[Customer]) -> list[Customer]:
    return [c for c in customers if c.gender in {"M", "F"}]


def test_reference_validators_reject_bad_values():
    assert gb11643_valid("11010519491231002X")
    assert not gb11643_valid("110105194912310021")
    assert not resident_id_valid("110105199002300019")
    assert luhn_valid("4111111111111111")
    assert not luhn_valid("4111111111111112")
    assert not ssn_valid("666-12-3456")
    assert not ssn_valid("123-00-4567")


def test_same_arguments_give_identical_customers(customers):
    assert generate_customers("proj1", 300, 7) == customers


def test_other_seed_or_project_gives_other_customers(customers):
    other_seed = generate_customers("proj1", 300, 8)
    other_project = generate_customers("proj2", 300, 7)
    assert sum(a.id_number == b.id_number for a, b in zip(customers, other_seed, strict=True)) < 5
    assert sum(a.name == b.name for a, b in zip(customers, other_project, strict=True)) < 60


def test_smaller_count_is_a_prefix(customers):
    assert generate_customers("proj1", 40, 7) == customers[:40]


def test_count_bounds():
    assert generate_customers("proj1", 0, 7) == []
    with pytest.raises(ValueError):
        generate_customers("proj1", -1, 7)


def test_ids_customer_numbers_and_locale_mix(customers):
    assert [c.id for c in customers] == list(range(1, 301))
    assert all(re.fullmatch(r"C1\d{6}", c.customer_no) for c in customers)
    assert customers[122].customer_no == "C1000123"
    assert generate_customers("proj2", 1, 7)[0].customer_no == "C2000001"
    assert len(zh(customers)) + len(en(customers)) == 300
    assert 0.6 <= len(zh(customers)) / 300 <= 0.8


def test_to_dict_has_exactly_the_documented_keys_and_is_json(customers):
    expected = [
        "id", "customer_no", "name", "gender", "phone", "id_number", "bank_card", "email",
        "address", "grade", "created_at", "order_no", "amount", "notes",
    ]
    record = customers[0].to_dict()
    assert list(record) == expected == list(CSV_FIELDS)
    assert json.loads(json.dumps(record)) == record
    assert isinstance(record["id"], int)
    assert isinstance(record["amount"], float)


def test_customers_are_frozen(customers):
    with pytest.raises(AttributeError):
        customers[0].name = "x"  # type: ignore[misc]


def test_resident_ids_are_valid_and_match_gender(customers):
    ids = [c.id_number for c in zh(customers)]
    assert all(resident_id_valid(n) for n in ids)
    assert all(n[:6] in KNOWN_REGIONS for n in ids)
    assert any(n.endswith("X") for n in ids)
    for c in zh(customers):
        assert (int(c.id_number[16]) % 2 == 1) == (c.gender == "男")


def test_ssns_are_valid(customers):
    assert all(ssn_valid(c.id_number) for c in en(customers))


def test_bank_cards_are_luhn_valid_with_the_right_prefix(customers):
    for c in zh(customers):
        assert c.bank_card.startswith("62") and len(c.bank_card) in {16, 19}
        assert luhn_valid(c.bank_card)
    for c in en(customers):
        assert c.bank_card.startswith("4") and len(c.bank_card) == 16
        assert luhn_valid(c.bank_card)
    assert {16, 19} <= {len(c.bank_card) for c in zh(customers)}


def test_order_numbers_are_negative_controls(customers):
    for c in customers:
        assert re.fullmatch(r"\d{16}", c.order_no)
        assert not luhn_valid(c.order_no)
        assert not resident_id_valid(c.order_no)
    assert len({c.order_no for c in customers}) == 300


def test_phone_shapes(customers):
    shapes = Counter()
    for c in zh(customers):
        digits = re.sub(r"\D", "", c.phone).removeprefix("86")
        assert re.fullmatch(r"1[3-9]\d{9}", digits)
        if c.phone.startswith("+86 "):
            shapes["intl"] += 1
        elif "-" in c.phone:
            shapes["dashed"] += 1
        else:
            shapes["bare"] += 1
    assert set(shapes) == {"intl", "dashed", "bare"}
    for c in en(customers):
        assert re.fullmatch(r"(\+1 )?\(?\d{3}\)?[- ]555-01\d{2}", c.phone)


def test_phones_are_valid_for_phonenumbers(customers):
    phonenumbers = pytest.importorskip("phonenumbers")
    for c in customers:
        region = "CN" if c.gender in {"男", "女"} else "US"
        assert phonenumbers.is_valid_number(phonenumbers.parse(c.phone, region)), c.phone


def test_identifiers_agree_with_python_stdnum(customers):
    ric = pytest.importorskip("stdnum.cn.ric")
    luhn = pytest.importorskip("stdnum.luhn")
    us_ssn = pytest.importorskip("stdnum.us.ssn")
    for c in zh(customers):
        assert ric.is_valid(c.id_number)
    for c in en(customers):
        assert us_ssn.is_valid(c.id_number)
    for c in customers:
        assert luhn.is_valid(c.bank_card)
        assert not luhn.is_valid(c.order_no)


def test_other_fields(customers):
    for c in customers:
        assert c.grade in set("ABCDE")
        assert dt.date(2019, 1, 1) <= dt.date.fromisoformat(c.created_at) <= dt.date(2024, 12, 31)
        assert round(c.amount, 2) == c.amount and c.amount > 0
        assert re.fullmatch(r"[a-z0-9.]+@[a-z0-9.]+\.[a-z]+", c.email)
    for c in zh(customers):
        assert re.fullmatch(r"\w+?[省市]\w*?[市]?\w+区\w+?\d+号\d+单元\d+室", c.address)
    for c in en(customers):
        assert re.fullmatch(r"\d+ [^,]+, [^,]+, [A-Z]{2} \d{5}", c.address)


def test_notes_mention_only_the_customers_own_pii(customers):
    other_ids = {c.id_number for c in customers}
    for c in customers:
        foreign = other_ids - {c.id_number}
        assert not any(value in c.notes for value in foreign)
    for c in zh(customers):
        assert 1 <= c.notes.count("。") <= 3 and c.notes.endswith("。")
    for c in en(customers):
        assert 1 <= len(re.split(r"(?<=\.) ", c.notes)) <= 3 and c.notes.endswith(".")


def test_notes_cover_each_kind_of_pii_and_clean_notes(customers):
    def flat(c: Customer) -> list[str]:
        return [v for values in pii_values(c).values() for v in values]

    clean = [c for c in customers if not any(v in c.notes for v in flat(c))]
    assert 30 <= len(clean) <= 120
    assert all(c.order_no in c.notes or c.grade in c.notes for c in clean)
    zh_notes = [c for c in zh(customers) if c.name in c.notes]
    assert any(c.id_number in c.notes for c in zh_notes)
    assert any(c.bank_card in c.notes for c in zh_notes)
    assert any(c.email in c.notes for c in zh_notes)
    assert any(re.sub(r"\D", "", c.phone)[-11:] in c.notes for c in zh_notes)
    assert any(c.id_number in c.notes for c in en(customers))
    assert any(c.phone in c.notes for c in en(customers))


def test_pii_values_by_locale(customers):
    first_zh, first_en = zh(customers)[0], en(customers)[0]
    zh_values = pii_values(first_zh)
    assert set(zh_values) == {
        "PERSON", "CN_MOBILE", "CN_RESIDENT_ID", "CN_BANK_CARD", "EMAIL_ADDRESS", "CN_ADDRESS",
    }
    assert zh_values["CN_RESIDENT_ID"] == [first_zh.id_number]
    assert first_zh.phone in zh_values["CN_MOBILE"]
    assert re.sub(r"\D", "", first_zh.phone)[-11:] in zh_values["CN_MOBILE"]
    en_values = pii_values(first_en)
    assert set(en_values) == {
        "PERSON", "PHONE_NUMBER", "US_SSN", "CREDIT_CARD", "EMAIL_ADDRESS", "LOCATION",
    }
    assert en_values["US_SSN"] == [first_en.id_number]
    assert en_values["CREDIT_CARD"] == [first_en.bank_card]


def test_formatted_mobile_ground_truth_lists_both_forms(customers):
    formatted = next(c for c in zh(customers) if c.phone.startswith("+86 "))
    assert pii_values(formatted)["CN_MOBILE"] == [
        formatted.phone,
        formatted.phone.replace("+86", "").replace(" ", ""),
    ]


def test_non_pii_values_are_disjoint_from_pii(customers):
    c = customers[0]
    assert non_pii_values(c) == [
        c.customer_no, c.order_no, f"{c.amount:.2f}", c.created_at, c.grade,
    ]
    for customer in customers:
        pii = {v for values in pii_values(customer).values() for v in values}
        assert not pii & set(non_pii_values(customer))


def test_demo_users():
    users = demo_users()
    assert set(users) == {"alice", "bob", "carol", "dave", "erin", "admin"}
    assert users["alice"] == "alice-password"
    assert all(password == f"{user}-password" for user, password in users.items())


def test_package_reexports():
    assert set(gateway.demo.__all__) == {
        "CRM_CUSTOMERS", "CRM_USERS", "CSV_FIELDS", "Customer", "create_crm_app",
        "demo_users", "generate_customers", "non_pii_values", "pii_values",
    }
    assert all(hasattr(gateway.demo, name) for name in gateway.demo.__all__)

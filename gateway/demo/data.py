"""Deterministic synthetic customers for the demo CRM, with their PII ground truth.

Every customer is derived from its own seed (project, seed, index), so the first ``n``
customers of a project are the same whatever ``count`` is asked for. About 70% are
zh_CN customers and 30% en_US. Identifiers carry valid checksums (GB 11643 resident
IDs, Luhn bank cards, well-formed SSNs); ``order_no`` is a deliberate negative control
that fails Luhn and is not a resident ID.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import random
import re
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from typing import Any

from faker import Faker

__all__ = [
    "CSV_FIELDS",
    "EN",
    "ZH",
    "Customer",
    "demo_users",
    "generate_customers",
    "non_pii_values",
    "pii_values",
]

ZH = "zh_CN"
EN = "en_US"

# (code, first birth year the code was in use for, city, district, streets); strict
# validators such as python-stdnum reject a code used before it existed.
_REGIONS: tuple[tuple[str, int, str, str, tuple[str, ...]], ...] = (
    ("110105", 1950, "北京市", "朝阳区", ("建国路", "朝阳北路", "望京街")),
    ("110108", 1950, "北京市", "海淀区", ("中关村大街", "学院路", "海淀大街")),
    ("310104", 1950, "上海市", "徐汇区", ("漕溪北路", "虹桥路", "肇嘉浜路")),
    ("310106", 1950, "上海市", "静安区", ("南京西路", "延安中路", "常德路")),
    ("440305", 1990, "广东省深圳市", "南山区", ("深南大道", "科技园路", "南海大道")),
    ("440106", 1985, "广东省广州市", "天河区", ("天河路", "体育西路", "花城大道")),
    ("510107", 1990, "四川省成都市", "武侯区", ("人民南路", "科华北路", "武侯祠大街")),
    ("330106", 1983, "浙江省杭州市", "西湖区", ("文三路", "天目山路", "曙光路")),
    ("320102", 1983, "江苏省南京市", "玄武区", ("中山路", "北京东路", "珠江路")),
    ("420106", 1983, "湖北省武汉市", "武昌区", ("中南路", "中北路", "武珞路")),
)
_GB11643_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_GB11643_CHECK = "10X98765432"
_CN_MOBILE_PREFIXES = (
    *(str(p) for p in range(130, 140)),
    *("150", "151", "152", "155", "156", "157", "158", "159", "166", "176", "177"),
    *(str(p) for p in range(180, 190)),
    *("191", "193", "195", "198", "199"),
)
_CN_MOBILE_STYLES = ("+86 {} {} {}", "{}-{}-{}", "{}{}{}", "{}{}{}")
_US_PHONE_STYLES = ("+1 {}-555-{}", "({}) 555-{}", "{}-555-{}")
_UNIONPAY_BINS = ("622202", "622848", "621700", "622588", "622609", "621483")
_CARD_SHAPES = {ZH: (_UNIONPAY_BINS, (16, 19)), EN: (("4",), (16,))}
_US_AREA_CODES = ("212", "415", "312", "617", "206", "305", "512", "303", "404", "213")
_SSN_BLACKLIST = frozenset({"078-05-1120", "219-09-9999"})
_ZH_MAIL_DOMAINS = ("qq.com", "163.com", "126.com", "sina.com", "foxmail.com")
_EN_MAIL_DOMAINS = ("gmail.com", "yahoo.com", "outlook.com", "example.com")
_ZH_PII_NOTES = (
    "客户{name}来电，要求把手机号{mobile}的账单寄到{address}，身份证{id_number}已核验。",
    "{name}申请更换还款卡，新卡号{bank_card}，确认邮件已发送至{email}。",
    "回访{name}（{mobile}），客户确认收货地址为{address}。",
    "客户{name}要求把预留手机号改为{mobile}，身份证{id_number}已复核。",
)
_ZH_PLAIN_NOTES = (
    "客户等级评估完成，订单{order_no}已发货，金额{amount:.2f}元。",
    "系统自动对账，订单{order_no}状态正常，金额{amount:.2f}元。",
    "客户等级调整为{grade}级，建档日期{created_at}。",
)
_EN_PII_NOTES = (
    "Customer {name} called to have the statement for {phone} mailed to {address}; "
    "SSN {id_number} verified.",
    "{name} asked to replace the card on file with {bank_card} and to confirm by email to {email}.",
    "Callback from {name} at {phone} confirming the shipping address {address}.",
)
_EN_PLAIN_NOTES = (
    "Tier review complete, order {order_no} shipped, amount ${amount:.2f}.",
    "Automatic reconciliation: order {order_no} settled for {amount:.2f} USD.",
    "Grade set to {grade}; account opened on {created_at}.",
)
_NOTE_TEMPLATES = {ZH: (_ZH_PII_NOTES, _ZH_PLAIN_NOTES), EN: (_EN_PII_NOTES, _EN_PLAIN_NOTES)}
_ENTITIES = {
    ZH: ("CN_MOBILE", "CN_RESIDENT_ID", "CN_BANK_CARD", "CN_ADDRESS"),
    EN: ("PHONE_NUMBER", "US_SSN", "CREDIT_CARD", "LOCATION"),
}
_LAST_BIRTH_DAY = dt.date(1999, 12, 31)
_FIRST_DAY = dt.date(2019, 1, 1)
_DAYS_SPAN = (dt.date(2024, 12, 31) - _FIRST_DAY).days


@dataclass(frozen=True, slots=True)
class Customer:
    """One CRM customer; ``locale`` is bookkeeping and not part of ``to_dict()``."""

    id: int
    customer_no: str
    name: str
    gender: str
    phone: str
    id_number: str
    bank_card: str
    email: str
    address: str
    grade: str
    created_at: str
    order_no: str
    amount: float
    notes: str
    locale: str

    def to_dict(self) -> dict[str, str | int | float]:
        return {field: getattr(self, field) for field in CSV_FIELDS}


CSV_FIELDS: tuple[str, ...] = tuple(f.name for f in fields(Customer) if f.name != "locale")


def _gb11643_check_digit(first17: str) -> str:
    total = sum(int(d) * w for d, w in zip(first17, _GB11643_WEIGHTS, strict=True))
    return _GB11643_CHECK[total % 11]


def _luhn_check_digit(payload: str) -> str:
    total = 0
    for i, char in enumerate(reversed(payload)):
        digit = int(char) * (2 if i % 2 == 0 else 1)
        total += digit - 9 if digit > 9 else digit
    return str(-total % 10)


def _digits(rng: random.Random, n: int) -> str:
    return "".join(rng.choice("0123456789") for _ in range(n))


def _resident_id(rng: random.Random, male: bool) -> str:
    region, since, *_ = rng.choice(_REGIONS)
    first_day = dt.date(since, 1, 1)
    birth = first_day + dt.timedelta(days=rng.randrange((_LAST_BIRTH_DAY - first_day).days + 1))
    sequence = rng.randrange(500) * 2 + (1 if male else 0)
    first17 = f"{region}{birth:%Y%m%d}{sequence:03d}"
    return first17 + _gb11643_check_digit(first17)


def _us_ssn(rng: random.Random) -> str:
    while True:
        area = rng.randint(1, 899)
        ssn = f"{area:03d}-{rng.randint(1, 99):02d}-{rng.randint(1, 9999):04d}"
        if area != 666 and ssn not in _SSN_BLACKLIST:
            return ssn


def _bank_card(rng: random.Random, locale: str) -> str:
    bins, lengths = _CARD_SHAPES[locale]
    prefix, length = rng.choice(bins), rng.choice(lengths)
    payload = prefix + _digits(rng, length - len(prefix) - 1)
    return payload + _luhn_check_digit(payload)


def _order_no(rng: random.Random, created: dt.date) -> str:
    payload = f"{created:%Y%m%d}" + _digits(rng, 7)
    valid = int(_luhn_check_digit(payload))
    return payload + str((valid + rng.randint(1, 9)) % 10)


def _cn_mobile(rng: random.Random) -> str:
    bare = rng.choice(_CN_MOBILE_PREFIXES) + _digits(rng, 8)
    return rng.choice(_CN_MOBILE_STYLES).format(bare[:3], bare[3:7], bare[7:])


def _us_phone(rng: random.Random) -> str:
    area, line = rng.choice(_US_AREA_CODES), f"01{rng.randrange(100):02d}"
    return rng.choice(_US_PHONE_STYLES).format(area, line)


def _cn_address(rng: random.Random) -> str:
    _, _, city, district, streets = rng.choice(_REGIONS)
    number, unit, room = rng.randint(1, 300), rng.randint(1, 6), rng.randint(1, 30) * 100
    return f"{city}{district}{rng.choice(streets)}{number}号{unit}单元{room + rng.randint(1, 4)}室"


def _us_address(rng: random.Random, gen: Any) -> str:
    state = gen.state_abbr(include_territories=False, include_freely_associated_states=False)
    return f"{rng.randint(1, 9999)} {gen.street_name()}, {gen.city()}, {state} {gen.zipcode()}"


def _bare_mobile(phone: str) -> str:
    digits = re.sub(r"\D", "", phone)
    return digits[2:] if len(digits) == 13 and digits.startswith("86") else digits


def _notes(rng: random.Random, locale: str, values: Mapping[str, object]) -> str:
    pii, plain = _NOTE_TEMPLATES[locale]
    if rng.random() < 0.25:
        chosen = rng.sample(plain, rng.randint(1, 2))
    else:
        first = rng.choice(pii)
        rest = [t for t in (*pii, *plain) if t != first]
        chosen = [first, *rng.sample(rest, rng.randint(0, 2))]
    sentences = [template.format(**values) for template in chosen]
    return ("" if locale == ZH else " ").join(sentences)


def _person(rng: random.Random, locale: str, gen: Any) -> tuple[str, str, str]:
    male = rng.random() < 0.5
    if locale == ZH:
        name = str(gen.name_male() if male else gen.name_female())
        return name, "男" if male else "女", _resident_id(rng, male)
    first = gen.first_name_male() if male else gen.first_name_female()
    return f"{first} {gen.last_name()}", "M" if male else "F", _us_ssn(rng)


def _email(rng: random.Random, locale: str, gen: Any, name: str) -> str:
    if locale == ZH:
        return f"{gen.user_name()}{rng.randint(1, 999)}@{rng.choice(_ZH_MAIL_DOMAINS)}"
    local = re.sub(r"[^a-z.]", "", name.lower().replace(" ", "."))
    return f"{local}{rng.randint(1, 99)}@{rng.choice(_EN_MAIL_DOMAINS)}"


def _customer_seed(project: str, seed: int, index: int) -> int:
    digest = hashlib.sha256(f"{project}\x00{seed}\x00{index}".encode()).digest()
    return int.from_bytes(digest[:8], "big")


def _make_customer(fake: Any, project: str, seed: int, index: int) -> Customer:
    customer_seed = _customer_seed(project, seed, index)
    rng = random.Random(customer_seed)
    fake.seed_instance(customer_seed)
    locale = ZH if rng.random() < 0.7 else EN
    gen = fake[locale]
    name, gender, id_number = _person(rng, locale, gen)
    created = _FIRST_DAY + dt.timedelta(days=rng.randrange(_DAYS_SPAN + 1))
    phone = _cn_mobile(rng) if locale == ZH else _us_phone(rng)
    project_digits = "".join(c for c in project if c.isdigit()) or "0"
    customer = Customer(
        id=index + 1,
        customer_no=f"C{project_digits}{index + 1:06d}",
        name=name,
        gender=gender,
        phone=phone,
        id_number=id_number,
        bank_card=_bank_card(rng, locale),
        email=_email(rng, locale, gen, name),
        address=_cn_address(rng) if locale == ZH else _us_address(rng, gen),
        grade=rng.choice("ABCDE"),
        created_at=created.isoformat(),
        order_no=_order_no(rng, created),
        amount=round(rng.uniform(10, 50_000), 2),
        notes="",
        locale=locale,
    )
    values = {**customer.to_dict(), "mobile": _bare_mobile(phone)}
    return replace(customer, notes=_notes(rng, locale, values))


def generate_customers(project: str, count: int, seed: int) -> list[Customer]:
    """Return ``count`` customers with ids 1..count, fully determined by the arguments."""
    if count < 0:
        raise ValueError("count must be >= 0")
    fake = Faker([ZH, EN])
    return [_make_customer(fake, project, seed, index) for index in range(count)]


def pii_values(customer: Customer) -> dict[str, list[str]]:
    """Map entity types to the raw PII strings of ``customer`` as they may appear in output."""
    phone_entity, id_entity, card_entity, place_entity = _ENTITIES[customer.locale]
    phones = [customer.phone]
    if customer.locale == ZH:
        phones.append(_bare_mobile(customer.phone))
    return {
        "PERSON": [customer.name],
        phone_entity: list(dict.fromkeys(phones)),
        id_entity: [customer.id_number],
        card_entity: [customer.bank_card],
        "EMAIL_ADDRESS": [customer.email],
        place_entity: [customer.address],
    }


def non_pii_values(customer: Customer) -> list[str]:
    """Values that look like data but are not personal; a detector must leave them alone."""
    return [
        customer.customer_no,
        customer.order_no,
        f"{customer.amount:.2f}",
        customer.created_at,
        customer.grade,
    ]


def demo_users() -> dict[str, str]:
    """Username to password for the demo CRM login."""
    users = ("alice", "bob", "carol", "dave", "erin", "admin")
    return {user: f"{user}-password" for user in users}

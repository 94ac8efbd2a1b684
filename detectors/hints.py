"""Field names as strong hints: ``姓名``, ``phone``, ``id_number`` say what a value is.

Keys are normalised (case, separators and common suffixes removed) before lookup, so
``phoneNumber``, ``PHONE_NO`` and ``phone-number`` are the same hint. A hint names the
entity a value is expected to be; the masker still checks the value's shape, so a
``name`` field holding ``iPhone 15`` is not masked as a person.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

__all__ = ["FREE_TEXT", "Hint", "HintTable", "normalize_key"]

FREE_TEXT = "FREE_TEXT"

_SEPARATORS = re.compile(r"[\s_\-.:：/()（）\[\]]+")
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")


@dataclass(frozen=True, slots=True)
class Hint:
    entity: str


def normalize_key(key: str) -> str:
    """``customerPhone_No`` → ``customerphoneno``; CJK keys keep their characters."""
    return _SEPARATORS.sub("", _CAMEL.sub("", key)).lower()


_GROUPS: Mapping[str, tuple[str, ...]] = {
    "PERSON": (
        "name", "fullname", "customername", "clientname", "contactname", "contact",
        "contactperson", "realname", "username_real", "firstname", "lastname", "surname",
        "givenname", "holdername", "cardholder", "accountname", "owner", "recipient",
        "姓名", "客户姓名", "客户名称", "联系人", "真实姓名", "持卡人", "户名", "收件人",
        "户主", "法定代表人", "法人", "经办人", "开户名",
    ),
    "PHONE": (
        "phone", "phoneno", "phonenumber", "mobile", "mobileno", "mobilephone", "cell",
        "cellphone", "tel", "telephone", "telno", "contactphone", "customerphone",
        "手机", "手机号", "手机号码", "电话", "电话号码", "联系电话", "联系方式", "移动电话",
        "座机", "固定电话", "办公电话",
    ),
    "ID_NUMBER": (
        "idnumber", "idno", "idcard", "idcardno", "identitycard", "identityno", "nationalid",
        "residentid", "certno", "certificateno", "documentno", "ssn", "socialsecurity",
        "socialsecuritynumber", "taxid", "passport", "passportno",
        "身份证", "身份证号", "身份证号码", "证件号", "证件号码", "公民身份号码", "护照号",
        "护照号码", "通行证号",
    ),
    "BANK_CARD": (
        "bankcard", "bankcardno", "cardno", "cardnumber", "card", "creditcard", "debitcard",
        "accountno", "accountnumber", "bankaccount", "iban",
        "银行卡", "银行卡号", "卡号", "账号", "帐号", "银行账号", "信用卡号", "收款账号",
    ),
    "EMAIL_ADDRESS": ("email", "emailaddress", "mail", "e-mail", "邮箱", "电子邮箱", "电子邮件"),
    "ADDRESS": (
        "address", "addr", "homeaddress", "streetaddress", "mailingaddress",
        "residentialaddress", "contactaddress", "street",
        "地址", "住址", "家庭住址", "联系地址", "通讯地址", "户籍地址", "收货地址", "居住地址",
    ),
    "SECRET": (
        "password", "passwd", "pwd", "cvv", "cvv2", "cvc", "pin", "otp", "smscode",
        "verificationcode", "securitycode", "track2", "trackdata",
        "密码", "验证码", "支付密码", "安全码",
    ),
    FREE_TEXT: (
        "notes", "note", "remark", "remarks", "comment", "comments", "description", "memo",
        "message", "content", "text", "body", "summary", "detail", "details", "feedback",
        "备注", "说明", "描述", "内容", "留言", "沟通记录", "跟进记录", "回访记录", "意见",
    ),
}


class HintTable:
    """Look up the hint for a key; users may add or override keys in configuration."""

    def __init__(self, extra: Mapping[str, str] | None = None) -> None:
        table: dict[str, Hint] = {}
        for entity, keys in _GROUPS.items():
            for key in keys:
                table[normalize_key(key)] = Hint(entity)
        for key, entity in (extra or {}).items():
            table[normalize_key(key)] = Hint(entity)
        self._table = table
        self._cache: dict[str, Hint | None] = {}

    def lookup(self, key: str | None) -> Hint | None:
        if not key:
            return None
        try:
            return self._cache[key]
        except KeyError:
            pass
        norm = normalize_key(key)
        hint = self._table.get(norm)
        if hint is None and not norm.isascii():
            hint = next((h for k, h in self._table.items() if not k.isascii() and k in norm),
                        None)
        if len(self._cache) < 4096:
            self._cache[key] = hint
        return hint


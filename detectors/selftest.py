"""Start-up self-test: one known value per enabled entity must be detected and masked.

A detector that silently stopped working (a broken pattern, a missing dictionary)
makes readiness fail instead of letting data through.
"""

from __future__ import annotations

from collections.abc import Mapping

from detectors.engine import DetectionEngine
from detectors.finding import ScanReport

__all__ = ["SAMPLES", "self_test"]

_FREE_TEXT_ONLY = frozenset({"PERSON", "CN_ADDRESS", "LOCATION"})

SAMPLES: Mapping[str, str] = {
    "CN_RESIDENT_ID": "身份证11010519491231002X已核验",
    "CN_MOBILE": "手机13812345678请回电",
    "CN_LANDLINE": "办公电话010-62345678转123",
    "CN_BANK_CARD": "卡号是6222021234567890128谢谢",
    "CN_USCC": "统一社会信用代码91350100M000100Y43",
    "CN_PASSPORT": "护照号E12345678",
    "EMAIL_ADDRESS": "邮件发至zhang.wei@example.com。",
    "IP_ADDRESS": "login from 203.0.113.45 failed",
    "CREDIT_CARD": "card 4111 1111 1111 1111 on file",
    "IBAN_CODE": "IBAN GB82 WEST 1234 5698 7654 32",
    "US_SSN": "SSN 536-90-4399 on file",
    "PHONE_NUMBER": "call +1 212-555-0143 today",
    "PERSON": "客户张伟先生来电咨询",
    "CN_ADDRESS": "寄到北京市海淀区中关村大街27号3单元501室",
}


def self_test(engine: DetectionEngine) -> list[str]:
    """Entities whose sample was not found; empty when every enabled detector works."""
    failures = []
    enabled = engine.settings.entities
    for entity, sample in SAMPLES.items():
        if enabled is not None and entity not in enabled:
            continue
        if entity in _FREE_TEXT_ONLY and entity not in engine.text_entities:
            continue
        report = ScanReport()
        try:
            masked = engine.masker((), report).mask_text(sample)
        except Exception:
            failures.append(entity)
            continue
        if report.counts.get(entity, 0) == 0 or masked == sample:
            failures.append(entity)
    return failures

"""Presidio recognizers for Chinese identifiers, one per module.

Each is a plain ``PatternRecognizer`` built from :mod:`detectors.patterns`; register an
instance per language, e.g. ``CnMobileRecognizer(supported_language="en")``.
"""

from __future__ import annotations

from presidio_analyzer import PatternRecognizer

from detectors.recognizers.cn_bank_card_recognizer import CnBankCardRecognizer
from detectors.recognizers.cn_landline_recognizer import CnLandlineRecognizer
from detectors.recognizers.cn_mobile_recognizer import CnMobileRecognizer
from detectors.recognizers.cn_passport_recognizer import CnPassportRecognizer
from detectors.recognizers.cn_resident_id_recognizer import CnResidentIdRecognizer
from detectors.recognizers.cn_travel_permit_recognizer import CnTravelPermitRecognizer
from detectors.recognizers.cn_uscc_recognizer import CnUsccRecognizer

__all__ = [
    "CnBankCardRecognizer",
    "CnLandlineRecognizer",
    "CnMobileRecognizer",
    "CnPassportRecognizer",
    "CnResidentIdRecognizer",
    "CnTravelPermitRecognizer",
    "CnUsccRecognizer",
    "default_recognizers",
]


def default_recognizers(language: str = "zh") -> list[PatternRecognizer]:
    """One fresh instance of every recognizer here, for ``language``."""
    return [
        CnResidentIdRecognizer(supported_language=language),
        CnMobileRecognizer(supported_language=language),
        CnLandlineRecognizer(supported_language=language),
        CnBankCardRecognizer(supported_language=language),
        CnUsccRecognizer(supported_language=language),
        CnPassportRecognizer(supported_language=language),
        CnTravelPermitRecognizer(supported_language=language),
    ]

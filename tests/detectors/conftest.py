"""Shared detection fixtures: one engine per test session (building it is not free)."""

from __future__ import annotations

import pytest

from detectors.engine import DetectionEngine, DetectionSettings
from detectors.fingerprint import Fingerprinter
from policies.masking import MaskingPolicy


def build_engine(**settings: object) -> DetectionEngine:
    return DetectionEngine(
        DetectionSettings(**settings),  # type: ignore[arg-type]
        MaskingPolicy(),
        Fingerprinter(b"test-fingerprint-key-0123456789"),
    )


@pytest.fixture(scope="session")
def engine() -> DetectionEngine:
    return build_engine()

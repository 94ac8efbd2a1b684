"""PII detection and masking: synchronous, pure, no aiohttp, no gateway imports."""

from detectors.fingerprint import Fingerprinter

__all__ = ["Fingerprinter"]

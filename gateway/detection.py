"""Build the detection engine and masking policy from the gateway configuration."""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

from detectors.build import RecognizerSpec, build_text_recognizers, build_user_recognizers
from detectors.engine import DetectionEngine, DetectionSettings
from detectors.fingerprint import Fingerprinter
from gateway.config import Config
from policies.masking import DEFAULT_RULES, MaskingPolicy, spec_from

__all__ = ["build_engine", "derive_key"]


def derive_key(master: bytes, purpose: str) -> bytes:
    """Separate keys per purpose, so log fingerprints never equal client pseudonyms."""
    return hmac.new(master, purpose.encode(), hashlib.sha256).digest()


def build_engine(config: Config, master_key: bytes) -> DetectionEngine:
    """The engine; its fingerprints use the same derived key as the request log."""
    det, mask = config.detection, config.masking
    rules = dict(DEFAULT_RULES)
    rules.update({entity: spec_from(rule) for entity, rule in mask.rules.items()})
    roles = {role: {entity: spec_from(rule) for entity, rule in table.items()}
             for role, table in mask.roles.items()}
    operator_keys: dict[str, dict[str, Any]] = {
        "hmac": {"key": derive_key(master_key, "pseudonym")},
    }
    if mask.encrypt_key:
        operator_keys["encrypt"] = {"key": mask.encrypt_key}
    settings = DetectionSettings(
        entities=frozenset(det.entities) if det.entities is not None else None,
        extra_hints=dict(det.hints),
        operator_keys=operator_keys,
    )
    specs = [RecognizerSpec(r.name, r.entity, r.patterns, r.score, r.deny_list, r.context,
                            r.class_path) for r in det.recognizers]
    return DetectionEngine(
        settings,
        MaskingPolicy(rules, roles),
        Fingerprinter(derive_key(master_key, "fingerprint")),
        build_text_recognizers(det.zh_ner, det.en_ner_model, det.en_ner),
        build_user_recognizers(specs),
    )

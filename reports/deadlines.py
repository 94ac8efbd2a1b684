"""Notification deadlines per regime, and the CAC grade and GDPR risk they depend on.

Only a breach (personal data actually left: a detected leak, or a manual report saying
so) starts the clocks; a blocked export is a near miss and notifies nobody. Clocks run
from the moment the organisation became aware (``times["aware"]``):

- PIPL Art. 57: "immediately"; the tracker uses a short target (``pipl_hours``, default 1).
- CAC: within 4 hours when the grade is 较大 or above (≥ 1 million subjects by default;
  ≥ 10 million is 重大). Thresholds are configurable.
- GDPR Art. 33: 72 hours, unless the breach is unlikely to result in a risk (the data was
  masked, i.e. pseudonymised): then the duty is recorded as ``not_required``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["Regimes", "cac_grade", "gdpr_risk", "notification_plan", "overdue"]


@dataclass(frozen=True, slots=True)
class Regimes:
    pipl_hours: float = 1.0
    cac_hours: float = 4.0
    cac_large_subjects: int = 1_000_000
    cac_major_subjects: int = 10_000_000
    gdpr_hours: float = 72.0
    enabled: tuple[str, ...] = ("pipl", "cac", "gdpr")


def cac_grade(subjects: int, regimes: Regimes) -> str:
    if subjects >= regimes.cac_major_subjects:
        return "重大 (major)"
    if subjects >= regimes.cac_large_subjects:
        return "较大 (large)"
    return "一般 (general)"


def gdpr_risk(categories: list[dict[str, Any]], masked: bool) -> str:
    if masked:
        return "low"
    if any(c.get("pipl_sensitive") for c in categories):
        return "high"
    return "medium"


def notification_plan(aware: float, subjects: int, risk: str,
                      regimes: Regimes) -> list[dict[str, Any]]:
    """One tracker row per regime that applies: deadline, recipient, sent, reference."""
    rows: list[dict[str, Any]] = []

    def row(regime: str, hours: float, recipient: str, required: bool = True) -> None:
        rows.append({"regime": regime, "deadline": aware + hours * 3600,
                     "recipient": recipient, "required": required, "sent_at": None,
                     "reference": None})

    if "pipl" in regimes.enabled:
        row("PIPL", regimes.pipl_hours, "履行个人信息保护职责的部门 and affected individuals")
    if "cac" in regimes.enabled and subjects >= regimes.cac_large_subjects:
        row("CAC", regimes.cac_hours, "网信部门 (Cyberspace Administration)")
    if "gdpr" in regimes.enabled:
        row("GDPR", regimes.gdpr_hours, "lead supervisory authority", required=risk != "low")
    return rows


def overdue(notifications: list[dict[str, Any]], now: float) -> int:
    return sum(1 for n in notifications
               if n["required"] and n["sent_at"] is None and n["deadline"] < now)

from __future__ import annotations

from detectors.finding import Span
from detectors.masker import Cell, merge_spans


def record(**fields):
    return [Cell(k, v, f"/0/{k}") for k, v in fields.items()]


def test_hinted_fields_are_masked_whole_and_feed_the_deny_list(engine):
    masker = engine.masker(())
    out = masker.mask_batch([record(
        姓名="欧阳娜娜", phone="184-9324-3867", id_number="11010519491231002X",
        notes="欧阳娜娜来电，手机18493243867，备用184-9324-3867",
    )])[0]
    assert out[0] == "欧***"
    assert out[1] == "184-****-3867"
    assert out[2] == "110105********002X"
    assert "欧阳娜娜" not in out[3] and "18493243867" not in out[3]
    assert "184-9324-3867" not in out[3]
    assert masker.report.counts["PERSON"] == 2


def test_hint_that_does_not_fit_the_value_falls_back_to_scanning(engine):
    masker = engine.masker(())
    out = masker.mask_batch([record(name="iPhone 15 Pro", phone="N/A", card="VIP")])[0]
    assert out == ["iPhone 15 Pro", "N/A", "VIP"]
    assert masker.report.total == 0


def test_secret_fields_are_never_shown(engine):
    out = engine.masker(()).mask_batch([record(password="hunter2", cvv="123")])[0]
    assert out == ["******", "******"]


def test_findings_carry_no_raw_value(engine):
    masker = engine.masker(())
    masker.mask_text("手机13812345678，邮箱zhang.wei@example.com")
    assert masker.report.counts == {"CN_MOBILE": 1, "EMAIL_ADDRESS": 1}
    for finding in masker.report.findings:
        text = repr(finding)
        assert "13812345678" not in text and "zhang.wei@example.com" not in text
        assert finding.fingerprint.startswith("hmac:")
    assert masker.report.findings[0].preview == "138****5678"


def test_deny_list_respects_ascii_word_boundaries(engine):
    masker = engine.masker(())
    out = masker.mask_batch([record(name="Li Na", notes="Li Na met Lina and Li Nab today")])[0]
    assert out[1] == "L* N* met Lina and Li Nab today"


def test_merge_spans_unions_overlaps():
    spans = [Span("A", 0, 5, 0.5, "x", "r"), Span("B", 3, 10, 0.9, "x", "r"),
             Span("C", 12, 14, 1.0, "x", "r")]
    merged = merge_spans(spans)
    assert [(s.entity, s.start, s.end) for s in merged] == [("B", 0, 10), ("C", 12, 14)]


def test_role_rules_change_the_operator(engine):
    from detectors.engine import DetectionEngine
    from policies.masking import MaskingPolicy, spec_from

    policy = MaskingPolicy(roles={"customer_manager": {"CN_MOBILE": spec_from("keep")},
                                  "external_partner": {"*": spec_from("redact")}})
    eng = DetectionEngine(engine.settings, policy, engine._fingerprinter)
    text = "手机13812345678，身份证11010519491231002X"
    assert eng.masker(("customer_manager",)).mask_text(text) == \
        "手机13812345678，身份证110105********002X"
    assert eng.masker(("external_partner",)).mask_text(text) == "手机，身份证"
    assert eng.masker(()).mask_text(text) == "手机138****5678，身份证110105********002X"
    assert eng.masker(("customer_manager", "external_partner")).mask_text(text).startswith(
        "手机13812345678")


def test_field_rights_keep_entities_in_clear_and_count_them(engine):
    masker = engine.masker((), unmask=frozenset({"CN_MOBILE"}))
    out = masker.mask_text("手机13812345678，身份证11010519491231002X")
    assert out == "手机13812345678，身份证110105********002X"
    assert masker.report.kept == {"CN_MOBILE": 1}
    assert masker.report.counts == {"CN_MOBILE": 1, "CN_RESIDENT_ID": 1}
    assert masker.report.findings[0].preview == "138****5678"

"""ZhPersonRecognizer: hand-made CRM sentences, negative controls and demo-data recall.

The hand-made table was written independently of gateway.demo.data: call notes, complaints
and delivery slips with two- and three-character names, compound surnames, and names next
to digits and punctuation. KNOWN_MISSES are strict xfails, so that a fix shows up.
"""

from __future__ import annotations

import re
import socket

import jieba
import pytest
from presidio_analyzer import RecognizerResult

from detectors.recognizers import zh_person_recognizer
from detectors.recognizers.zh_person_recognizer import ZhPersonRecognizer
from gateway.demo.data import ZH, generate_customers, pii_values

NAMES = [
    ("今日上午客户陈思远来电咨询信用卡分期手续费。", ["陈思远"]),
    ("客户刘洋表示上月账单金额有误，已转二线核实。", ["刘洋"]),
    ("联系人：欧阳振华，电话13911112222。", ["欧阳振华"]),
    ("收件人：司马南 地址见附件", ["司马南"]),
    ("尊敬的诸葛明轩先生，您的包裹已到达驿站。", ["诸葛明轩"]),
    ("致电马丽女士确认还款日期，未接通。", ["马丽"]),
    ("投诉人杨帆反映快递员未经同意将包裹放在门口。", ["杨帆"]),
    ("回访孙建国（138-0013-8000），客户对处理结果满意。", ["孙建国"]),
    ("快递已由王芳签收，签收时间14:32。", ["王芳"]),
    ("持卡人赵小燕本人到店办理挂失。", ["赵小燕"]),
    ("客户郑凯2024年3月起多次逾期。", ["郑凯"]),
    ("联系人张伟、李娜和王秀英均已完成实名认证。", ["张伟", "李娜", "王秀英"]),
    ("经理周志强已审批该笔退款。", ["周志强"]),
    ("申请人：慕容雪，身份证号码见影像件。", ["慕容雪"]),
    ("尊敬的上官婉儿女士您好", ["上官婉儿"]),
    ("户主吴桂芬已于昨日缴清物业费。", ["吴桂芬"]),
    ("客户林晓峰13800138000来电称卡片被盗刷。", ["林晓峰"]),
    ("来电人：许文博，反映APP无法登录。", ["许文博"]),
    ("客户经理胡静已联系客户。", ["胡静"]),
    ("关于徐立新先生的投诉已结案。", ["徐立新"]),
    ("请于明天联系客户何敏。", ["何敏"]),
    ("客户罗志明的手机号已变更。", ["罗志明"]),
    ("业主高峰要求物业尽快维修电梯。", ["高峰"]),
    ("收货人:唐嫣然 电话:13700001111", ["唐嫣然"]),
    ("客户于洋来电要求提高额度。", ["于洋"]),
    ("姓名：皇甫嵩；证件类型：身份证", ["皇甫嵩"]),
    ("客户冯雨轩（VIP）申请延期还款。", ["冯雨轩"]),
    ("客户欧阳娜娜、欧阳震华均已完成回访。", ["欧阳娜娜", "欧阳震华"]),
    ("投诉人蒋丽丽称快递员态度恶劣。", ["蒋丽丽"]),
    ("韩梅梅女士于3月5日来访。", ["韩梅梅"]),
    ("联系人：夏侯杰 13622223333", ["夏侯杰"]),
    ("客服专员谢晓东已回复客户。", ["谢晓东"]),
    ("2024-03-05 客户田甜来电，称验证码收不到。", ["田甜"]),
    ("客户曾志伟今天下午到店办理销户。", ["曾志伟"]),
    ("配送单：收件人彭丽媛，备注：放门卫。", ["彭丽媛"]),
    ("经核实，客户白雪确为本人操作。", ["白雪"]),
    ("收件人：方圆，电话：18600001111", ["方圆"]),
    ("客户令狐冲、任盈盈已签约。", ["令狐冲", "任盈盈"]),
    ("客户司徒静来电要求注销账户。", ["司徒静"]),
    ("经办人：严明 复核人：车晓", ["严明", "车晓"]),
    ("客户郭靖、黄蓉夫妇申请联名账户。", ["郭靖", "黄蓉"]),
    ("已致电申请人吕思琪，告知审批结果。", ["吕思琪"]),
    ("签收人：邱淑贞（代签）", ["邱淑贞"]),
    ("尊敬的汪峰先生：您的信用卡账单已出。", ["汪峰"]),
    ("客户王国庆来电。", ["王国庆"]),
    ("公司老板张明华先生到店", ["张明华"]),
    ("已电话通知客户邵佳怡补交材料。", ["邵佳怡"]),
    ("客户廖凡称其银行卡在ATM被吞。", ["廖凡"]),
    ("客户宇文护来电咨询境外消费。", ["宇文护"]),
    ("客户单田芳申请停卡。", ["单田芳"]),
    ("张伟和李娜昨天一起办理了业务", ["张伟", "李娜"]),
    ("杜福生的流水显示大额转出。", ["杜福生"]),
    ("高峰期网点排队，郑爽在2号窗口办理。", ["郑爽"]),
    ("催收：牛奔逾期92天，已转外包。", ["牛奔"]),
    ("母亲岳桂兰陪同办理。", ["岳桂兰"]),
    ("拒接名单：13036362159（胡戈）", ["胡戈"]),
]


def _miss(text: str, expected: list[str], reason: str) -> object:
    return pytest.param(text, expected, marks=pytest.mark.xfail(strict=True, reason=reason))


KNOWN_MISSES = [
    _miss("客户东方不败来电", ["东方不败"], "compound surname that is a common word (东方)"),
    _miss("客户钱多多来电咨询理财产品", ["钱多多"], "given name is a frequent adverb (多多)"),
    _miss("客户毛不易要求补寄发票", ["毛不易"], "不 is a stop character"),
    _miss("客户华瑞来电", ["华瑞"], "name is a frequent brand in jieba's dictionary"),
    _miss("尊敬的沈阳先生", ["沈阳"], "name is a frequent place name"),
    _miss("昨天张伟和李娜一起办理了业务", ["张伟", "李娜"], "no context word beside either name"),
    _miss("全智妍（韩籍）来电", ["全智妍"], "Korean name; 韩籍 is read as a name"),
]

NEGATIVE = [
    "客户高兴地表示满意。",
    "客户张贴了公告。",
    "客户王国的代表来电。",
    "客户黄金会员权益已开通。",
    "客户周末来电咨询。",
    "客户金额核对无误。",
    "会员李子采摘活动报名已满。",
    "客户万元以上交易需短信验证。",
    "客户方案已确认。",
    "客户向东走了两百米到达网点。",
    "客户于是申请了退款。",
    "客户常规回访已完成。",
    "江苏客户要求开具发票。",
    "客户余额不足，扣款失败。",
    "客户林业局要求提供对账单。",
    "客户安全验证未通过。",
    "今天很高兴，周末去江苏，王国黄金李子万元方案向东于是常规余额林业安全。",
    "客户华为技术有限公司申请开票。",
    "客户张记餐饮有限公司要求开具发票。",
    "客户石家庄分行来电",
    "客户经理来电。",
    "客户王先生来电。",
    "客户和家人来电询问。",
    "客户明白了风险提示。",
    "本公司申请延期。",
    "客户马上就到",
    "客户曾经来电",
    "客户代表来电",
    "客户强烈要求赔偿",
    "客户向银行申请贷款",
    "客户收货地址为北京市朝阳区建国路88号。",
    "",
]


@pytest.fixture(scope="module")
def recognizer() -> ZhPersonRecognizer:
    found = ZhPersonRecognizer()
    found.warm_up()
    return found


def names(recognizer: ZhPersonRecognizer, text: str) -> list[str]:
    return [text[start:end] for start, end, _ in recognizer.find(text)]


@pytest.mark.parametrize(("text", "expected"), NAMES)
def test_finds_exact_names(recognizer: ZhPersonRecognizer, text: str, expected: list[str]) -> None:
    assert names(recognizer, text) == expected


@pytest.mark.parametrize(("text", "expected"), KNOWN_MISSES)
def test_known_misses(recognizer: ZhPersonRecognizer, text: str, expected: list[str]) -> None:
    assert names(recognizer, text) == expected


@pytest.mark.parametrize("text", NEGATIVE)
def test_negative_controls(recognizer: ZhPersonRecognizer, text: str) -> None:
    assert recognizer.find(text) == []


def test_demo_notes_recall(recognizer: ZhPersonRecognizer) -> None:
    customers = [c for c in generate_customers("zh-person-test", 300, 5) if c.locale == ZH]
    found = expected = wrong = 0
    for customer in customers:
        (name,) = pii_values(customer)["PERSON"]
        truth = {(m.start(), m.end()) for m in re.finditer(re.escape(name), customer.notes)}
        spans = {(start, end) for start, end, _ in recognizer.find(customer.notes)}
        expected, found, wrong = (
            expected + len(truth),
            found + len(truth & spans),
            wrong + len(spans - truth),
        )
    assert expected > 100
    assert found / expected >= 0.95
    assert wrong <= 0.02 * expected


def test_scores_rise_with_context(recognizer: ZhPersonRecognizer) -> None:
    (one_side,) = recognizer.find("客户张伟今天来电")
    (both_sides,) = recognizer.find("客户张伟来电")
    (title,) = recognizer.find("尊敬的张伟先生")
    assert 0 < one_side[2] < both_sides[2] <= title[2] <= 1.0


def test_analyze_wraps_find(recognizer: ZhPersonRecognizer) -> None:
    text = "联系人：欧阳振华，电话13911112222。"
    results = recognizer.analyze(text, ["PERSON"])
    assert [(r.entity_type, r.start, r.end) for r in results] == [("PERSON", 4, 8)]
    metadata = results[0].recognition_metadata
    assert metadata[RecognizerResult.RECOGNIZER_NAME_KEY] == "ZhPersonRecognizer"
    assert metadata[RecognizerResult.IS_SCORE_ENHANCED_BY_CONTEXT_KEY] is True


def test_configuration() -> None:
    custom = ZhPersonRecognizer(supported_language="en", name="names", surnames=["卓", "# x"])
    assert custom.supported_language == "en"
    assert custom.supported_entities == ["PERSON"]
    assert custom.name == "names"
    assert custom.single_surnames == {"卓"}
    default = ZhPersonRecognizer()
    assert {"欧阳", "司马", "诸葛", "上官"} <= default.compound_surnames
    assert len(default.single_surnames) > 400


def test_jieba_dictionary_loads_lazily_without_jieba_cache_or_network(
        monkeypatch: pytest.MonkeyPatch) -> None:
    recognizer = ZhPersonRecognizer()
    assert not recognizer.lexicon.loaded

    def refuse(*_: object, **__: object) -> None:
        raise AssertionError("must not be called")

    monkeypatch.setattr(jieba.Tokenizer, "initialize", refuse)
    monkeypatch.setattr(socket, "socket", refuse)
    assert names(recognizer, "客户张伟今天来电") == ["张伟"]
    assert recognizer.lexicon.loaded


def test_public_names() -> None:
    assert zh_person_recognizer.__all__ == ["ZhPersonRecognizer"]

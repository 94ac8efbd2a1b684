from __future__ import annotations

import json

import orjson
from click.testing import CliRunner

from gateway.cli.main import cli
from gateway.demo.data import generate_customers, pii_values

CUSTOMERS = generate_customers("proj1", 10, 3)


def write_json(tmp_path):
    path = tmp_path / "customers.json"
    path.write_bytes(orjson.dumps([c.to_dict() for c in CUSTOMERS]))
    return path


def raw(customers=CUSTOMERS):
    return [v for c in customers for vals in pii_values(c).values() for v in vals]


def test_findings_are_json_lines_without_raw_values(tmp_path):
    result = CliRunner().invoke(cli, ["scan", str(write_json(tmp_path))])
    assert result.exit_code == 1
    lines = [json.loads(line) for line in result.output.splitlines()]
    assert len(lines) >= 10 * 6
    assert {"entity", "score", "location", "preview", "fingerprint"} <= set(lines[0])
    assert any(line["location"] == "/0/phone" for line in lines)
    assert [v for v in raw() if v in result.output] == []


def test_mask_writes_the_same_format(tmp_path):
    result = CliRunner().invoke(cli, ["scan", "--mask", str(write_json(tmp_path))])
    assert result.exit_code == 0
    doc = json.loads(result.output)
    assert len(doc) == 10 and set(doc[0]) == set(CUSTOMERS[0].to_dict())
    assert [v for v in raw() if v in result.output] == []


def test_stdin_and_clean_input_exit_zero():
    result = CliRunner().invoke(cli, ["scan", "--format", "text", "-"],
                                input="nothing to see here\n")
    assert result.exit_code == 0 and result.output == ""


def test_role_changes_the_output(tmp_path):
    config = tmp_path / "gw.yaml"
    config.write_text(
        "upstreams: {crm: {url: 'http://127.0.0.1:1'}}\n"
        "routes: [{name: crm, upstream: crm}]\n"
        "masking: {roles: {customer_manager: {CN_MOBILE: keep, PHONE_NUMBER: keep}}}\n"
    )
    args = ["scan", "--mask", "--format", "text", "--config", str(config)]
    plain = CliRunner().invoke(cli, [*args, "-"], input="手机13812345678")
    manager = CliRunner().invoke(cli, [*args, "--role", "customer_manager", "-"],
                                 input="手机13812345678")
    assert plain.output == "手机138****5678"
    assert manager.output == "手机13812345678"


def test_unparseable_input_exit_code(tmp_path):
    path = tmp_path / "broken.json"
    path.write_text('{"phone": "13812345678",')
    result = CliRunner().invoke(cli, ["scan", str(path)])
    assert result.exit_code == 3
    assert "13812345678" not in result.output

"""The demo's printed export story, run line by line with curl: block, request, refuse
self-approval, approve, download once (masked and watermarked), refuse a second download,
and trace the downloaded file and two rows of it back to the approval."""

from __future__ import annotations

import asyncio
import json
import shlex
import shutil
import subprocess

import pytest
from click.testing import CliRunner

from gateway.cli.demo import _config_file, _curl_lines
from gateway.cli.main import cli
from gateway.config import parse_config
from gateway.demo.crm import create_crm_app

pytestmark = pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")


def story(lines: str) -> list[str]:
    start = lines.index("An export needs an approval")
    commands = [line.strip() for line in lines[start:].splitlines()]
    return [c for c in commands if c.startswith(("curl", "sed", ".venv/bin/dlp-gateway"))
            and "/_dlp/metrics" not in c]


def shell(command: str, cwd) -> str:
    done = subprocess.run(["bash", "-c", command], cwd=cwd, capture_output=True, text=True,
                          timeout=60, check=True)
    return done.stdout


async def run(command: str, cwd) -> str:
    if "dlp-gateway" not in command:
        return await asyncio.to_thread(shell, command, cwd)
    before, _, cli_part = command.rpartition("&&")
    if before:
        await asyncio.to_thread(shell, before, cwd)
    args = shlex.split(cli_part.strip())[1:]
    args[-1] = str(cwd / args[-1])
    result = await asyncio.to_thread(CliRunner().invoke, cli, args)
    assert result.exit_code == 0, result.output
    return result.output


async def test_the_printed_export_story(start_upstream, start_gateway, tmp_path):
    crm = await start_upstream(create_crm_app())
    crm_port = int(crm.rsplit(":", 1)[1])
    data, config_file = _config_file(crm_port, 0, str(tmp_path / "state"))
    gw = await start_gateway(crm, config=parse_config(data, env={}))
    port = int(gw.url.rsplit(":", 1)[1])
    steps = story(_curl_lines(port, crm_port, config_file))
    assert len(steps) == 8

    blocked = json.loads(await run(steps[0], tmp_path))
    assert blocked["error"] == "approval_required" and blocked["records"] == 300
    approval = json.loads(await run(steps[1], tmp_path))["id"]
    steps = [step.replace("ID", approval) for step in steps]
    assert json.loads(await run(steps[2], tmp_path))["error"] == "forbidden"
    assert json.loads(await run(steps[3], tmp_path))["state"] == "approved"
    await run(steps[4], tmp_path)
    download = (tmp_path / "bob-proj1.csv").read_text(encoding="utf-8-sig")
    assert download.startswith("id,customer_no") and "\u2217" in download
    assert json.loads(await run(steps[5], tmp_path))["cause"] == "used"
    for step in steps[6:8]:
        traced = await run(step, tmp_path)
        assert f"MATCH approval {approval}" in traced and "bob (pseudonym" in traced

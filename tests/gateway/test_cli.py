from __future__ import annotations

import subprocess
import sys

from click.testing import CliRunner

from gateway import __version__
from gateway.cli.main import cli


def test_help_lists_the_commands():
    result = CliRunner().invoke(cli, ["--help"])
    assert result.exit_code == 0
    for command in ("serve", "demo", "demo-upstream", "version"):
        assert command in result.output


def test_version():
    result = CliRunner().invoke(cli, ["version"])
    assert result.output.strip() == __version__


def test_serve_with_invalid_config_names_the_key(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text(
        "upstreams: {crm: {url: 'http://127.0.0.1:1'}}\n"
        "routes: [{name: crm, upstream: crm2}]\n"
    )
    result = CliRunner().invoke(cli, ["serve", "--config", str(path)])
    assert result.exit_code != 0
    assert "routes[0].upstream" in result.output
    assert "crm2" in result.output


def test_console_entry_point_runs():
    out = subprocess.run(
        [sys.executable, "-m", "gateway", "version"], capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == __version__

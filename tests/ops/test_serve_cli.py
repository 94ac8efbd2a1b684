"""``serve``'s choices before any process starts: worker count, port conflicts, bad config."""

from __future__ import annotations

import os
import socket
import subprocess
import sys

import pytest
import yaml
from click.testing import CliRunner

from gateway.cli.main import cli
from gateway.cli.serve import cpu_quota, default_workers
from gateway.workers import bind_sockets, reset_metrics_dir


@pytest.mark.parametrize(
    ("files", "quota"),
    [
        ({"cpu.max": "200000 100000\n"}, 2.0),
        ({"cpu.max": "150000 100000\n"}, 1.5),
        ({"cpu.max": "max 100000\n"}, None),
        ({"cpu/cpu.cfs_quota_us": "300000\n", "cpu/cpu.cfs_period_us": "100000\n"}, 3.0),
        ({"cpu/cpu.cfs_quota_us": "-1\n", "cpu/cpu.cfs_period_us": "100000\n"}, None),
        ({}, None),
    ],
)
def test_the_container_cpu_limit_is_read_from_cgroups(tmp_path, files, quota):
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    assert cpu_quota(tmp_path) == quota


def test_default_workers_is_the_usable_cores_capped_by_the_cpu_limit(tmp_path):
    cores = len(os.sched_getaffinity(0))
    assert default_workers(tmp_path) == cores
    (tmp_path / "cpu.max").write_text("50000 100000\n")
    assert default_workers(tmp_path) == 1
    (tmp_path / "cpu.max").write_text(f"{(cores + 8) * 100000} 100000\n")
    assert default_workers(tmp_path) == cores


def test_worker_sockets_share_one_port_and_refuse_a_port_in_use():
    sockets = bind_sockets("127.0.0.1", 0, 3)
    try:
        ports = {sock.getsockname()[1] for sock in sockets}
        assert len(ports) == 1
        with socket.create_connection(("127.0.0.1", ports.pop()), timeout=2):
            pass
    finally:
        for sock in sockets:
            sock.close()
    with socket.socket() as taken:
        taken.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        with pytest.raises(OSError):
            bind_sockets("127.0.0.1", taken.getsockname()[1], 2)


def test_the_metrics_directory_starts_empty(tmp_path):
    stale = tmp_path / "metrics"
    stale.mkdir()
    (stale / "counter_123.db").write_bytes(b"old")
    assert list(reset_metrics_dir(stale).iterdir()) == []


def test_serve_with_several_workers_reports_a_bad_config_before_starting(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump({"upstreams": {"crm": {"url": "http://127.0.0.1:1"}},
                                    "routes": [{"name": "crm", "upstream": "nope"}]}))
    result = CliRunner().invoke(cli, ["serve", "--config", str(path), "--workers", "2"])
    assert result.exit_code != 0 and "routes[0].upstream" in result.output
    assert not (tmp_path / "var").exists()
    result = CliRunner().invoke(cli, ["serve", "--config", str(path), "--workers", "0"])
    assert result.exit_code == 2


def test_a_worker_that_cannot_start_stops_the_supervisor_with_an_error(tmp_path):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = {
        "listen": {"port": port}, "state_dir": str(tmp_path / "state"),
        "upstreams": {"crm": {"url": "http://127.0.0.1:1"}},
        "routes": [{"name": "crm", "upstream": "crm"}],
        "secrets": {"hmac_key": "x" * 32},
        "policy": {"model": str(tmp_path / "missing.conf")},
    }
    path = tmp_path / "gw.yaml"
    path.write_text(yaml.safe_dump(config))
    out = subprocess.run([sys.executable, "-m", "gateway", "serve", "--config", str(path),
                          "--workers", "2"], capture_output=True, text=True, timeout=120)
    assert out.returncode == 1
    assert "workers failed to start" in out.stderr

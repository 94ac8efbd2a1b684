"""``dlp-gateway demo`` and ``dlp-gateway demo-upstream``."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from pathlib import Path
from typing import Any

import aiohttp
import click
import yaml
from aiohttp import web

from gateway.app import create_app
from gateway.config import parse_config
from gateway.logs import configure_logging

__all__ = ["demo", "demo_config", "demo_upstream"]

DEMO_HMAC_KEY = "demo-only-hmac-key-change-me-0001"


DEMO_USERS = {  # user: (roles, tenants), as in the README's table
    "alice": (["planner"], ["proj1"]),
    "bob": (["customer_manager"], ["proj1"]),
    "carol": (["approver"], ["proj1"]),
    "dave": (["auditor"], []),
    "erin": (["external_partner"], ["proj1"]),
    "admin": (["admin"], []),
    "grace": (["compliance"], []),
}


def demo_config(upstream_port: int, port: int, state_dir: str) -> dict[str, Any]:
    """The demo's gateway configuration (also a readable example of the format)."""
    static_keys = [
        {"name": f"demo-key-of-{user}", "user": user, "roles": roles, "tenants": tenants,
         "key": f"demo-{user}", "demo": True}
        for user, (roles, tenants) in DEMO_USERS.items()
    ]
    return {
        "listen": {"host": "127.0.0.1", "port": port},
        "state_dir": state_dir,
        "upstreams": {"crm": {"url": f"http://127.0.0.1:{upstream_port}"}},
        "routes": [{"name": "crm", "prefix": "/", "upstream": "crm"}],
        "secrets": {"hmac_key": DEMO_HMAC_KEY},
        "audit": {"retention_days": 365},
        "auth": {
            "methods": ["api_key"],
            "public_paths": ["/api/health", {"path": "/login", "methods": ["POST"]}],
            "api_keys": {"store_path": "apikeys.sqlite3", "pepper": DEMO_HMAC_KEY,
                         "static": static_keys},
        },
        "masking": {"roles": {"external_partner": {"*": "redact"}}},
        "stages": ["metrics", "audit", "authn", "rate_guard", "authz", "export_guard",
                   "leak_watch", "pii_mask"],
    }


def _curl_lines(port: int, upstream_port: int, config_file: str = "gateway.yaml") -> str:
    base = f"http://127.0.0.1:{port}"
    return "\n".join(
        [
            "",
            "dlp-gateway demo is running.",
            f"  gateway:       {base}",
            f"  demo CRM:      http://127.0.0.1:{upstream_port}  (the unprotected upstream)",
            f"  health:        {base}/_dlp/healthz   readiness: {base}/_dlp/readyz",
            f"  metrics:       {base}/_dlp/metrics",
            "",
            "Users act with an API key: X-API-Key: demo-<user> (alice planner, bob customer",
            "manager, carol approver, dave auditor, erin external partner; all in proj1;",
            "grace is the compliance officer who triages incidents).",
            "",
            "Try:",
            "  # bob (customer manager) sees his project's phone numbers; IDs stay masked",
            f"  curl -s -H 'X-API-Key: demo-bob' '{base}/api/projects/proj1/customers/1'",
            "  # alice (planner) sees the same customer masked",
            f"  curl -s -H 'X-API-Key: demo-alice' '{base}/api/projects/proj1/customers/1'",
            "  # alice asks for another project: 403 approval_required, with how to ask",
            f"  curl -s -H 'X-API-Key: demo-alice' '{base}/api/projects/proj2/customers'",
            "  # erin (external partner) gets personal fields redacted",
            f"  curl -s -H 'X-API-Key: demo-erin' '{base}/api/projects/proj1/customers/1'",
            "  # dave (auditor) reads no customer data; no key at all: 401",
            f"  curl -s -H 'X-API-Key: demo-dave' '{base}/api/projects/proj1/customers'",
            f"  curl -s '{base}/api/projects/proj1/customers'",
            "  # the CRM's login page is public",
            f"  curl -s -i -X POST -d 'username=alice&password=wrong' '{base}/login'",
            "",
            "An export needs an approval for exactly that export:",
            "  # 1. bob's CSV export is blocked (403 approval_required)",
            f"  curl -s -H 'X-API-Key: demo-bob' '{base}/api/projects/proj1/customers/export.csv'",
            "  # 2. bob asks for approval (note the id in the answer)",
            f"  curl -s -H 'X-API-Key: demo-bob' -H 'Content-Type: application/json' "
            f"-d '{{\"method\": \"GET\", \"path\": \"/api/projects/proj1/customers/export.csv\", "
            f"\"reason\": \"quarterly review\", \"max_records\": 300}}' {base}/_dlp/approvals",
            "  # 3. bob cannot approve it himself; 4. carol (approver) can",
            f"  curl -s -X POST -H 'X-API-Key: demo-bob' {base}/_dlp/approvals/ID/approve",
            f"  curl -s -X POST -H 'X-API-Key: demo-carol' {base}/_dlp/approvals/ID/approve",
            "  # 5. bob downloads it once, masked and watermarked for this export;",
            "  # 6. a second download with the same approval is refused",
            f"  curl -s -H 'X-API-Key: demo-bob' -H 'X-DLP-Approval: ID' -o bob-proj1.csv "
            f"'{base}/api/projects/proj1/customers/export.csv'",
            f"  curl -s -H 'X-API-Key: demo-bob' -H 'X-DLP-Approval: ID' "
            f"'{base}/api/projects/proj1/customers/export.csv'",
            "  # 7. the file leaks: trace names the export (approval, requester, time), even",
            "  #    from two pasted rows",
            f"  .venv/bin/dlp-gateway trace --config {config_file} bob-proj1.csv",
            "  sed -n 5,6p bob-proj1.csv > two-rows.txt && "
            f".venv/bin/dlp-gateway trace --config {config_file} two-rows.txt",
            f"  curl -s '{base}/_dlp/metrics' | grep dlpgw_pii_findings_total",
        ]
    )


def _config_file(upstream_port: int, port: int, state_dir: str) -> tuple[dict[str, Any], str]:
    """The demo's configuration, also written to the state directory for the CLI tools."""
    state = Path(state_dir).resolve()
    data = demo_config(upstream_port, port, str(state))
    state.mkdir(parents=True, exist_ok=True)
    (state / "gateway.yaml").write_text(yaml.safe_dump(data, allow_unicode=True),
                                        encoding="utf-8")
    return data, str(state / "gateway.yaml")


async def _run_demo(port: int, upstream_port: int, state_dir: str) -> None:
    from gateway.demo.crm import create_crm_app
    from gateway.demo.incidents import incident_lines, play_incident_story

    crm_runner = web.AppRunner(create_crm_app(), access_log=None)
    await crm_runner.setup()
    await web.TCPSite(crm_runner, "127.0.0.1", upstream_port).start()
    data, config_file = _config_file(upstream_port, port, state_dir)
    config = parse_config(data)
    gw_runner = web.AppRunner(create_app(config), access_log=None)
    await gw_runner.setup()
    await web.TCPSite(gw_runner, "127.0.0.1", port).start()
    click.echo(_curl_lines(port, upstream_port, config_file))
    base = f"http://127.0.0.1:{port}"
    try:
        click.echo(incident_lines(base, await play_incident_story(base)))
    except (aiohttp.ClientError, RuntimeError) as exc:
        click.echo(f"\nThe demo's incidents could not be created: {exc}", err=True)
    click.echo("\nPress Ctrl+C to stop.")
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        await gw_runner.cleanup()
        await crm_runner.cleanup()


@click.command()
@click.option("--port", default=8080, show_default=True, help="Gateway port.")
@click.option("--upstream-port", default=8081, show_default=True, help="Demo CRM port.")
@click.option("--state-dir", default="./.demo-state", show_default=True,
              help="Where the demo keeps its SQLite state and logs.")
def demo(port: int, upstream_port: int, state_dir: str) -> None:
    """Run the demo CRM and the gateway in front of it."""
    configure_logging("ERROR")
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_run_demo(port, upstream_port, state_dir))


@click.command("demo-upstream")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8081, show_default=True)
@click.option("--seed", default=7, show_default=True, help="Seed for the synthetic data.")
@click.option("--per-project", default=300, show_default=True, help="Customers per project.")
def demo_upstream(host: str, port: int, seed: int, per_project: int) -> None:
    """Run only the demo CRM (the unprotected upstream)."""
    from gateway.demo.crm import create_crm_app

    configure_logging("WARNING")
    web.run_app(create_crm_app(seed=seed, per_project=per_project), host=host, port=port,
                access_log=None, print=lambda msg: click.echo(msg, err=True))

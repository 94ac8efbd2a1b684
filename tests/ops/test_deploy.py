"""The files in deploy/: they parse, agree with each other and with the gateway, and every
metric the dashboard and the alerts use is exported by a gateway after a demo-like run."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from gateway.config import STAGE_NAMES, Config, parse_config
from tests.ops.conftest import GatewayProcess

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
METRIC = re.compile(r"\bdlpgw_[a-z_]+\b")
ENV_REF = re.compile(r"\$\{([A-Z_][A-Z0-9_]*)")
REQUIRED_ALERTS = {
    "DlpGatewayErrorBudgetFastBurn", "DlpGatewayLatencySLO", "DlpGatewayInspectionSkipped",
    "DlpGatewayAuditWriteFailures", "DlpGatewayPolicyReloadFailing",
    "DlpGatewayApprovalRequiredSpike", "DlpGatewayBruteForceBurst",
    "DlpGatewayIncidentNotificationOverdue",
}
REQUIRED_PANELS = ("requests per second by route", "error ratio by route",
                   "latency by route", "pii findings by entity", "exports blocked",
                   "approvals pending", "incidents open", "inspection skipped",
                   "audit write failures", "audit checkpoint")


def load(path: str) -> Any:
    return yaml.safe_load((DEPLOY / path).read_text())


def gateway_config() -> Config:
    raw = (DEPLOY / "gateway.yaml").read_text()
    env = {name: "placeholder" for name in ENV_REF.findall(raw)}
    env.update(DLPGW_DATABASE_URL="postgresql+psycopg://u:p@db:5432/dlpgw",
               CRM_URL="http://crm:8081", DLPGW_HMAC_KEY="k" * 32)
    return parse_config(yaml.safe_load(raw), env=env)


def k8s() -> dict[str, dict[str, Any]]:
    docs = {}
    for path in sorted((DEPLOY / "k8s").glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            docs[doc["kind"]] = doc
    return docs


def rules() -> list[dict[str, Any]]:
    return [rule for group in load("prometheus/alerts.yml")["groups"] for rule in group["rules"]]


def dashboard() -> dict[str, Any]:
    return json.loads((DEPLOY / "grafana" / "dlp-gateway.json").read_text())


def dashboard_exprs() -> list[str]:
    return [t["expr"] for p in dashboard()["panels"] for t in p.get("targets", [])]


def test_every_deploy_file_parses():
    files = [p for p in DEPLOY.rglob("*") if p.suffix in (".yml", ".yaml", ".json")]
    assert len(files) >= 12
    for path in files:
        text = path.read_text()
        docs = [json.loads(text)] if path.suffix == ".json" else list(yaml.safe_load_all(text))
        assert docs and all(doc for doc in docs), path


def test_the_shared_gateway_config_is_valid_and_multi_host():
    config = gateway_config()
    assert config.store.url is not None and config.store.url.startswith("postgresql")
    assert config.store.counters == "redis"
    assert config.listen.host == "0.0.0.0"
    assert tuple(config.stages) == STAGE_NAMES
    assert config.audit.signing_key is not None and config.audit.signing_key.startswith("/")
    configmap = k8s()["ConfigMap"]["data"]["gateway.yaml"]
    assert yaml.safe_load(configmap) == load("gateway.yaml")


def test_compose_runs_two_gateways_on_shared_postgres_and_redis():
    compose = load("compose.yaml")
    services = compose["services"]
    gateways = [s for s in services.values() if "serve" in s.get("command", [])]
    assert len(gateways) == 2
    assert {"postgres", "redis", "prometheus", "grafana"} <= set(services)
    needed = set(ENV_REF.findall((DEPLOY / "gateway.yaml").read_text()))
    for gateway in gateways:
        assert "--workers" in gateway["command"]
        assert needed <= set(gateway["environment"]), needed - set(gateway["environment"])
        assert "@postgres:5432/" in gateway["environment"]["DLPGW_DATABASE_URL"]
        assert gateway["environment"]["DLPGW_REDIS_URL"].startswith("redis://redis:")
    for service in services.values():
        for volume in service.get("volumes", []):
            source = volume.split(":", 1)[0]
            if source.startswith("."):
                assert (DEPLOY / source).exists(), source
    scrape = load("prometheus/prometheus.yml")["scrape_configs"][0]
    targets = scrape["static_configs"][0]["targets"]
    assert {t.split(":")[0] for t in targets} == {
        name for name, s in services.items() if s in gateways}
    assert scrape["metrics_path"] == gateway_config().admin.prefix + "metrics"


def test_kubernetes_probes_ports_and_secrets_match_the_gateway():
    docs = k8s()
    assert {"Deployment", "Service", "ConfigMap", "Secret"} <= set(docs)
    config = gateway_config()
    pod = docs["Deployment"]["spec"]["template"]
    container = pod["spec"]["containers"][0]
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert ports == {"http": config.listen.port}
    prefix = config.admin.prefix
    assert container["livenessProbe"]["httpGet"] == {"path": prefix + "healthz", "port": "http"}
    assert container["readinessProbe"]["httpGet"] == {"path": prefix + "readyz", "port": "http"}
    assert container["startupProbe"]["httpGet"]["path"] == prefix + "healthz"
    assert pod["metadata"]["annotations"]["prometheus.io/path"] == prefix + "metrics"
    assert docs["Service"]["spec"]["ports"][0]["targetPort"] == "http"
    assert pod["spec"]["terminationGracePeriodSeconds"] > config.listen.grace_seconds + 5
    assert container["args"][container["args"].index("--workers") + 1] == str(
        int(float(container["resources"]["limits"]["cpu"])))
    secret = docs["Secret"]
    provided = set(secret["stringData"]) | {e["name"] for e in container["env"]}
    assert set(ENV_REF.findall(docs["ConfigMap"]["data"]["gateway.yaml"])) <= provided
    assert container["envFrom"][0]["secretRef"]["name"] == secret["metadata"]["name"]
    mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
    volumes = {v["name"]: v for v in pod["spec"]["volumes"]}
    assert volumes["keys"]["secret"]["items"][0]["key"] in secret["stringData"]
    key_path = volumes["keys"]["secret"]["items"][0]["path"]
    assert config.audit.signing_key == f"{mounts['keys']}/{key_path}"
    assert mounts["state"] == config.state_dir
    assert volumes["config"]["configMap"]["name"] == docs["ConfigMap"]["metadata"]["name"]


def test_alert_rules_cover_the_required_cases():
    found = rules()
    for rule in found:
        assert {"alert", "expr", "labels", "annotations"} <= set(rule), rule.get("alert")
        assert rule["labels"]["severity"] in ("page", "ticket")
        assert rule["annotations"]["summary"]
        assert rule["expr"].count("(") == rule["expr"].count(")")
    names = {rule["alert"] for rule in found}
    assert REQUIRED_ALERTS <= names, REQUIRED_ALERTS - names
    assert len(names) == len(found)


def test_dashboard_shows_the_required_views():
    board = dashboard()
    titles = [p["title"].lower() for p in board["panels"]]
    missing = [want for want in REQUIRED_PANELS if not any(want in t for t in titles)]
    assert missing == []
    ids = [p["id"] for p in board["panels"]]
    assert len(ids) == len(set(ids))
    for panel in board["panels"]:
        grid = panel["gridPos"]
        assert grid["x"] + grid["w"] <= 24
        if panel["type"] != "row":
            assert panel["datasource"]["uid"] == "${datasource}"
            assert panel["targets"] and all(METRIC.search(t["expr"]) for t in panel["targets"])
    assert {v["name"] for v in board["templating"]["list"]} == {"datasource", "instance"}


def test_every_metric_in_the_dashboard_and_the_alerts_is_exported(
        demo_gateway: GatewayProcess):
    exported = {s.name for f in text_string_to_metric_families(demo_gateway.metrics())
                for s in f.samples}
    used = {name for expr in [*dashboard_exprs(), *(r["expr"] for r in rules())]
            for name in METRIC.findall(expr)}
    assert len(used) >= 20
    missing = sorted(name for name in used if name not in exported)
    assert missing == []


@pytest.mark.skipif(shutil.which("promtool") is None,
                    reason="promtool is not installed (apt-get install prometheus)")
def test_promtool_accepts_the_config_the_rules_the_rule_tests_and_the_dashboard(tmp_path):
    def promtool(*args: str) -> None:
        out = subprocess.run(["promtool", *args], capture_output=True, text=True,
                             cwd=DEPLOY / "prometheus")
        assert out.returncode == 0, out.stdout + out.stderr

    promtool("check", "config", "prometheus.yml")
    promtool("test", "rules", "alerts_test.yml")
    queries = [
        {"record": f"dashboard:query_{i}",
         "expr": e.replace("$__rate_interval", "5m").replace("$__range", "1h")
                  .replace("$instance", ".*")}
        for i, e in enumerate(dashboard_exprs())
    ]
    path = tmp_path / "dashboard_rules.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": queries}]}))
    promtool("check", "rules", str(path))

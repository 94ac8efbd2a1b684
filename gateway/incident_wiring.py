"""Glue between the incident store, the gateway's metrics, reports and webhooks."""

from __future__ import annotations

import asyncio
import logging

from gateway.config import Config
from gateway.metrics import GatewayMetrics
from reports.audit_log import AuditLog
from reports.database import Database
from reports.incident import Incident
from reports.incident_store import IncidentStore
from reports.recorder import RecorderHooks
from reports.render import ReportRenderer
from reports.webhook_store import WebhookStore
from reports.webhooks import WebhookDispatcher, WebhookSettings

__all__ = ["incident_hooks", "refresh_incident_gauges", "report_renderer", "webhook_dispatcher"]

log = logging.getLogger("dlpgw.incidents")


def incident_hooks(metrics: GatewayMetrics, webhooks: WebhookDispatcher | None = None,
                   audit: AuditLog | None = None) -> RecorderHooks:
    def recorded(incident: Incident, created: bool, count: int) -> None:
        result = "opened" if created else "deduplicated"
        metrics.incidents.labels(kind=incident.kind, result=result).inc(count)
        if created:
            log.warning("incident %s opened: %s (%s, %s)", incident.id, incident.kind,
                        incident.rule, incident.severity)
            if audit is not None:
                # The incident itself is already committed; its audit entry rides the queue.
                audit.append({"kind": "incident_opened", "actor": "gateway",
                              "incident": incident.id, "incident_kind": incident.kind,
                              "rule": incident.rule, "severity": incident.severity})
        if webhooks is not None:
            webhooks.incident_recorded(incident, created, count)

    def failed(kind: str) -> None:
        metrics.incident_write_failures.inc()

    return RecorderHooks(on_recorded=recorded, on_failure=failed)


async def refresh_incident_gauges(store: IncidentStore, metrics: GatewayMetrics,
                                  interval: float = 15.0) -> None:
    """Keep ``incidents_open`` and ``incident_notifications_overdue`` current."""
    while True:
        try:
            counts = await asyncio.to_thread(store.open_counts)
            overdue = await asyncio.to_thread(store.overdue_notifications)
        except Exception as exc:
            log.error("incident gauges not refreshed: %s", type(exc).__name__)
        else:
            for severity, n in counts.items():
                metrics.incidents_open.labels(severity=severity).set(n)
            metrics.incident_notifications_overdue.set(overdue)
        await asyncio.sleep(interval)


def report_renderer(config: Config, database: Database) -> ReportRenderer:
    """Reports with the audit checkpoint from the shared database."""
    return ReportRenderer(database, cjk_font=config.incidents.report_cjk_font)


def webhook_dispatcher(config: Config, database: Database, incidents: IncidentStore,
                       metrics: GatewayMetrics) -> WebhookDispatcher | None:
    """The background webhook sender, or ``None`` when no webhook URL is configured."""
    hooks = config.incidents.webhooks
    if not hooks.urls or hooks.secret is None:
        return None
    settings = WebhookSettings(
        urls=tuple(hooks.urls), secret=hooks.secret.get_secret_value().encode(),
        max_attempts=hooks.max_attempts, backoff_seconds=hooks.backoff_seconds,
        backoff_max_seconds=hooks.backoff_max_seconds, timeout_seconds=hooks.timeout_seconds,
        deadline_lead_seconds=hooks.deadline_lead_seconds,
        scan_interval_seconds=hooks.scan_interval_seconds,
        link_prefix=config.admin.prefix + "ui/incidents/")

    def counted(result: str) -> None:
        metrics.webhook_deliveries.labels(result=result).inc()

    return WebhookDispatcher(WebhookStore(database), incidents, settings, on_result=counted)

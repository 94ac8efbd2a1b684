"""Incidents, audit and request logs, report rendering and notifications."""

from reports.request_log import RequestLog

__all__ = ["RequestLog"]

"""Incidents, the audit log, report rendering and notifications."""

__all__: list[str] = []

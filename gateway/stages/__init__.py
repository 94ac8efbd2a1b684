"""Pipeline stages, one concern per module, and the explicit default list."""

from gateway.stages.audit import AuditStage
from gateway.stages.metrics import MetricsStage
from gateway.stages.registry import StageDeps, default_stages

__all__ = ["AuditStage", "MetricsStage", "StageDeps", "default_stages"]

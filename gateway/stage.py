"""The Stage protocol: one concern, two hooks, never raises to stop a request."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from gateway.exchange import Exchange

__all__ = ["Stage"]


@runtime_checkable
class Stage(Protocol):
    """A pipeline stage.

    ``on_request`` runs in pipeline order before the upstream is called; ``on_response``
    runs in reverse order, only for the stages whose ``on_request`` was entered. A stage
    stops a request with ``ex.deny(...)``. If a ``critical`` stage raises, the request is
    denied with 503 and an incident is recorded; a non-critical stage's error is logged
    and counted, and the request goes on.

    A stage may also set ``observer = True``: it then sees exchanges that the front door
    refused before routing (bad path, no route), as metrics and audit must.
    """

    name: str
    critical: bool

    async def on_request(self, ex: Exchange) -> None: ...

    async def on_response(self, ex: Exchange) -> None: ...

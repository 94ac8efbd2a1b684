"""Data files shipped with the detectors (read with importlib.resources)."""

__all__: list[str] = []

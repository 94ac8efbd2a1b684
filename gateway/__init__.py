"""dlp-gateway: a privacy-compliance and data-loss-prevention reverse proxy."""

__version__ = "0.1.0"

__all__ = ["__version__"]

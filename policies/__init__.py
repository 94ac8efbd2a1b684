"""Access, masking and export policy (filled in by the policy issue)."""

__all__: list[str] = []

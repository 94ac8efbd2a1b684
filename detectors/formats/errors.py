"""The one error every format raises for input it cannot parse."""

from __future__ import annotations

__all__ = ["FormatError"]


class FormatError(ValueError):
    """The body is not valid in its declared format. The message never quotes the body."""

    def __init__(self, fmt: str, problem: str) -> None:
        super().__init__(f"{fmt}: {problem}")
        self.format = fmt
        self.problem = problem

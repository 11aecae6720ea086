"""One error type for everything a user can get wrong, with a stable code.

The worker turns a ``T2IError`` into a structured protocol error; the CLI prints its message.
Messages say what was wrong *and* what is accepted, so a person can act on them.
"""

from __future__ import annotations


class T2IError(Exception):
    """A problem the user can fix: ``code`` is stable (it crosses the wire), ``message`` prose."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message

    def __str__(self) -> str:
        return self.message


class Cancelled(Exception):
    """Raised inside a backend when the caller's cancel flag was set; not an error."""

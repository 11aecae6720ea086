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


# What the allocators say when they refuse (CPU: "DefaultCPUAllocator: can't allocate memory",
# "not enough memory"; CUDA/MPS: "... out of memory"). Newer torch raises OutOfMemoryError.
_OOM_PHRASES = ("out of memory", "can't allocate memory", "not enough memory")


def is_out_of_memory(e: BaseException) -> bool:
    """Did ``e`` come from an allocator refusing memory (as opposed to a bug)? One check for
    generation, model loading and training, so they all turn the same failures into
    ``out_of_memory`` with what to do."""
    if isinstance(e, MemoryError):
        return True
    import torch  # lazily: this module stays importable without torch loaded

    if isinstance(e, torch.OutOfMemoryError):
        return True
    text = str(e).lower()
    return isinstance(e, RuntimeError) and any(p in text for p in _OOM_PHRASES)

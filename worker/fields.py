"""Checked fields: the one place that says what a body field of the wire protocol may hold.

Standard library only (vendored into the Krita and Blender plugins with the client). Request
bodies (worker/params.py) and reply bodies (worker/replies.py) are dataclasses; the worker
checks a request's fields with ``typed`` and the client checks a reply's with ``read``, which
walks a dataclass's type hints. Both raise ``ProtocolError`` naming the field and what it must
be, so a malformed body never gets past the edge.
"""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from typing import Any, TypeVar

T = TypeVar("T")
REST = "rest"  # field metadata: this dict field collects the body's fields the class lacks
FRAMES = "frames"  # field metadata: filled from the message's frames, not from its body


class ProtocolError(Exception):
    """A message that must be answered with an error event (or dropped if unanswerable)."""

    def __init__(self, code: str, message: str, request_id: str = "") -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.request_id = request_id


_HINTS: dict[type, dict[str, Any]] = {}
_WANT = {str: "a string", int: "a whole number", float: "a finite number",
         bool: "true or false"}


def is_kind(value: Any, kind: type) -> bool:
    # bool is an int in Python but never a valid number here; ints are fine where floats are.
    if kind is bool:
        return isinstance(value, bool)
    if kind is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if kind is float:
        return (isinstance(value, int | float) and not isinstance(value, bool)
                and math.isfinite(value))
    return isinstance(value, kind)


def typed(value: Any, kind: type, name: str, request_id: str = "") -> Any:
    """``value`` as a ``kind`` (str, int, float or bool), or ``ProtocolError`` naming ``name``."""
    if not is_kind(value, kind):
        raise ProtocolError("bad_message", f"'{name}' must be {_WANT[kind]}, got "
                            f"{type(value).__name__}", request_id)
    return float(value) if kind is float else value


def read(cls: type[T], body: Any, where: str = "") -> T:
    """An instance of the dataclass ``cls`` from the JSON object ``body``, every field checked
    against its type hint (str, int, float, bool, ``X | None``, ``list[X]``, ``dict``, ``Any``
    and nested dataclasses). A field without a default must be present; fields the class
    does not know are ignored (a minor version may add them), or kept in its ``REST`` field.
    ``where`` prefixes the field names in the error (``models[0].sizes``)."""
    if not isinstance(body, dict):
        raise ProtocolError("bad_message", f"'{where or cls.__name__}' must be an object, got "
                            f"{type(body).__name__}")
    hints = _HINTS.get(cls)
    if hints is None:  # resolved once per class: progress events arrive ten times a second
        hints = _HINTS[cls] = typing.get_type_hints(cls)
    values: dict[str, Any] = {}
    rest_field = ""
    for f in dataclasses.fields(cls):  # type: ignore[arg-type]
        if f.metadata.get(REST):
            rest_field = f.name
            continue
        if f.metadata.get(FRAMES):
            continue
        name = f"{where}.{f.name}" if where else f.name
        if f.name in body:
            values[f.name] = _check(body[f.name], hints[f.name], name)
        elif (f.default is dataclasses.MISSING
              and f.default_factory is dataclasses.MISSING):
            raise ProtocolError("bad_message", f"'{name}' is missing")
    if rest_field:
        known = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
        values[rest_field] = {k: v for k, v in body.items() if k not in known}
    return cls(**values)


def _check(value: Any, hint: Any, name: str) -> Any:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if hint is Any:
        return value
    if origin in (types.UnionType, typing.Union):
        if value is None and type(None) in args:
            return None
        inner = [a for a in args if a is not type(None)]
        return _check(value, inner[0], name)
    if origin is list or hint is list:
        if not isinstance(value, list):
            raise ProtocolError("bad_message", f"'{name}' must be a list, got "
                                f"{type(value).__name__}")
        item = args[0] if args else Any
        return [_check(v, item, f"{name}[{i}]") for i, v in enumerate(value)]
    if origin is dict or hint is dict:
        if not isinstance(value, dict):
            raise ProtocolError("bad_message", f"'{name}' must be an object, got "
                                f"{type(value).__name__}")
        return dict(value)
    if dataclasses.is_dataclass(hint):
        return read(hint, value, name)  # type: ignore[arg-type]
    if hint in _WANT:
        return typed(value, hint, name)
    raise TypeError(f"{name}: no check for type {hint!r}")  # a programming error here

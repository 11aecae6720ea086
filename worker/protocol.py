"""The t2i worker wire protocol: message dataclasses, encoding, and validation at the edge.

Standard library + pyzmq-free on purpose (numpy optional) so that packaging can vendor this
file into a Krita or Blender plugin. Everything here turns bytes into trusted dataclasses or
raises ``ProtocolError``; nothing past ``decode`` re-checks types. docs/protocol.md is the
human-readable version of this file and must change with it.

A message is a list of frames: frame 0 is a UTF-8 JSON header (an object, at most
``MAX_HEADER_BYTES``), frames 1.. are raw payloads described in order by ``header["frames"]``.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from typing import Any

from .fields import ProtocolError
from .params import (  # noqa: F401 - re-exported: the request bodies are part of the protocol
    GENERATE_DEFAULTS,
    MODEL_DEPENDENT,
    PLAN_FORMATS,
    TRAIN_DEFAULTS,
    GenerateParams,
    LoraParam,
    PlanParams,
    TrainParams,
    UpscaleParams,
)

PROTOCOL_VERSION = "1.0"  # MAJOR.MINOR; a different MAJOR is refused (version_mismatch)
MAX_HEADER_BYTES = 64 * 1024
# Events from the worker may carry more text: a vector result's SVG drawings (each traced
# file is at most ~20 KB, up to MAX_IMAGES of them) travel in the result's body.
MAX_EVENT_HEADER_BYTES = 2 * 1024 * 1024
MAX_PAYLOADS = 4  # generate needs two (init image, mask); results carry up to MAX_IMAGES
MAX_IMAGES = 16  # also the most file frames (plan: SVG / geometry / DXF per variant)
MAX_SIDE = 4096
MAX_FRAME_BYTES = MAX_SIDE * MAX_SIDE * 4  # also the socket's MAXMSGSIZE: bigger frames drop
MAX_ID_CHARS = 64
_ID_RE = re.compile(rf"[A-Za-z0-9_.:\-]{{1,{MAX_ID_CHARS}}}")

# Requests a client may send, and the events a worker sends back.
REQUEST_TYPES = frozenset({"hello", "generate", "cancel", "list_models", "status", "shutdown",
                           "heartbeat", "train", "plan", "upscale"})
EVENT_TYPES = frozenset({"queued", "progress", "result", "error", "cancelled", "heartbeat"})
TERMINAL_TYPES = frozenset({"result", "error", "cancelled"})

# Stable error codes the worker and client produce themselves. Backends add their own
# (``T2IError.code``: empty_prompt, bad_size, bad_seed, ...), passed through unchanged.
ERROR_CODES = {
    "bad_message": "the header is not a JSON object of the documented shape",
    "bad_frames": "payload frames do not match the header's frame descriptions",
    "version_mismatch": "the peer speaks another major protocol version",
    "unauthorized": "the session token is missing or wrong",
    "unknown_type": "the message type is not a known request type",
    "duplicate_id": "a request with this id from this client is still active",
    "unknown_request": "cancel names no queued or running request of this client",
    "queue_full": "this client has too many queued requests",
    "model_not_found": "no installed backend offers the requested model",
    "model_refused": "the model's file is there but was refused (list_models: refused)",
    "backend_unavailable": "the backend failed to load",
    "shutting_down": "the worker is stopping and takes no new work",
    "internal": "unexpected worker failure (details in the worker log)",
    "worker_lost": "client side: the worker died while the request was in flight",
    "worker_unavailable": "client side: no worker could be reached or started",
    "timeout": "client side: no terminal event within the caller's timeout",
}


@dataclass
class Image:
    """A raw 8-bit image: ``shape`` is (H, W, C) or (H, W); ``data`` holds H*W*C bytes.
    A one-dimensional ``shape`` (N,) is a file's bytes instead (a plan's SVG, DXF or JSON),
    described on the wire with ``"dtype": "bytes"``."""

    shape: tuple[int, ...]
    data: bytes | memoryview
    name: str = "image"

    @property
    def height(self) -> int:
        return self.shape[0]

    @property
    def width(self) -> int:
        return self.shape[1]

    @property
    def channels(self) -> int:
        return self.shape[2] if len(self.shape) == 3 else 1

    def to_numpy(self) -> Any:
        """A read-only (H, W[, C]) uint8 view of the frame (no copy)."""
        import numpy as np

        return np.frombuffer(self.data, dtype=np.uint8).reshape(self.shape)

    @classmethod
    def from_numpy(cls, arr: Any, name: str = "image") -> Image:
        import numpy as np

        arr = np.ascontiguousarray(arr)
        if arr.dtype != np.uint8 or arr.ndim not in (2, 3):
            raise ValueError(f"{name}: need a uint8 (H, W) or (H, W, C) array, got "
                             f"{arr.dtype} {arr.shape}")
        return cls(tuple(int(s) for s in arr.shape), memoryview(arr).cast("B"), name)

    @classmethod
    def from_bytes(cls, data: bytes | str, name: str) -> Image:
        raw = data.encode("utf-8") if isinstance(data, str) else bytes(data)
        return cls((len(raw),), raw, name)

    def to_bytes(self) -> bytes:
        return bytes(self.data)

    def text(self) -> str:
        return bytes(self.data).decode("utf-8")

    def describe(self) -> dict:
        dtype = "bytes" if len(self.shape) == 1 else "uint8"
        return {"name": self.name, "shape": list(self.shape), "dtype": dtype}


class Reply:
    """The base of the typed reply bodies (worker/replies.py: ``GenerateResult``,
    ``Progress``, ``Failure``, ``Capabilities``, ...), so that ``Message.reply`` has a type
    without this module importing that one."""


@dataclass
class Message:
    """One decoded message in either direction. ``id`` is "" for heartbeats."""

    type: str
    id: str
    body: dict = field(default_factory=dict)
    images: list[Image] = field(default_factory=list)
    token: str = ""
    version: str = PROTOCOL_VERSION
    # The typed body (worker/replies.py), set by the client on every event it hands out.
    reply: Reply | None = field(default=None, compare=False, repr=False)

    @property
    def is_terminal(self) -> bool:
        return self.type in TERMINAL_TYPES

    @property
    def error_code(self) -> str:
        return str(self.body.get("code", "")) if self.type == "error" else ""


# --- encoding ---------------------------------------------------------------------------

def encode(msg: Message) -> list[bytes | memoryview]:
    """Frames for ``socket.send_multipart(frames, copy=False)``; images are not copied."""
    header: dict[str, Any] = {"v": msg.version, "type": msg.type, "id": msg.id}
    if msg.token:
        header["token"] = msg.token
    if msg.body:
        header["body"] = msg.body
    if msg.images:
        header["frames"] = [im.describe() for im in msg.images]
    raw = json.dumps(header, separators=(",", ":"), allow_nan=False).encode()
    limit = MAX_EVENT_HEADER_BYTES if msg.type in EVENT_TYPES else MAX_HEADER_BYTES
    if len(raw) > limit:
        raise ValueError(f"header is {len(raw)} bytes; the limit is {limit}")
    return [raw, *(im.data for im in msg.images)]


def error(request_id: str, code: str, message: str, **extra: Any) -> Message:
    return Message("error", request_id, {"code": code, "message": message, **extra})


# --- decoding (the edge: everything is hostile until it passes here) -------------------------

def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def peek_id(header: bytes | memoryview) -> str:
    """Best-effort request id of a header that failed validation, for the error reply."""
    try:
        obj = json.loads(bytes(header[:MAX_HEADER_BYTES]), parse_constant=_reject_constant)
        rid = obj.get("id") if isinstance(obj, dict) else None
        return rid if isinstance(rid, str) and _ID_RE.fullmatch(rid) else ""
    except Exception:  # noqa: BLE001 - any failure just means "no id"
        return ""


def decode(frames: list[Any], *, requests: bool = True) -> Message:
    """Validate and decode ``frames`` (bytes, memoryviews or zmq.Frame objects).

    ``requests=True`` on the worker side (only request types allowed), False on the client.
    Raises ``ProtocolError``; the error carries the request id when it could be read.
    """
    if not frames:
        raise ProtocolError("bad_message", "empty message")
    head = _buffer(frames[0])
    limit = MAX_HEADER_BYTES if requests else MAX_EVENT_HEADER_BYTES
    if len(head) > limit:
        raise ProtocolError("bad_message", f"header is {len(head)} bytes; the limit is "
                            f"{limit}")
    try:
        obj = json.loads(bytes(head).decode("utf-8"), parse_constant=_reject_constant)
    except (ValueError, RecursionError, UnicodeDecodeError) as e:
        raise ProtocolError("bad_message", f"header is not UTF-8 JSON: {str(e)[:120]}") from None
    if not isinstance(obj, dict):
        raise ProtocolError("bad_message", "header must be a JSON object")
    rid = obj.get("id", "")
    if not isinstance(rid, str) or (rid and not _ID_RE.fullmatch(rid)):
        raise ProtocolError("bad_message", f"'id' must be 1-{MAX_ID_CHARS} characters from "
                            "A-Z a-z 0-9 _ . : -")
    version = obj.get("v")
    if not isinstance(version, str) or not re.fullmatch(r"\d{1,4}\.\d{1,4}", version):
        raise ProtocolError("bad_message", "'v' must be a \"MAJOR.MINOR\" version string",
                            rid)
    if version.split(".")[0] != PROTOCOL_VERSION.split(".")[0]:
        raise ProtocolError("version_mismatch", f"peer speaks protocol {version}, this side "
                            f"speaks {PROTOCOL_VERSION}; update the plugin and the worker to "
                            "the same release", rid)
    mtype = obj.get("type")
    allowed = REQUEST_TYPES if requests else EVENT_TYPES
    if not isinstance(mtype, str) or mtype not in allowed:
        raise ProtocolError("unknown_type", f"unknown message type {str(mtype)[:40]!r}; "
                            f"expected one of {', '.join(sorted(allowed))}", rid)
    # Heartbeats belong to no request; an error about an unreadable message has no id to
    # echo. Everything else must name its request.
    if not rid and mtype != "heartbeat" and (requests or mtype != "error"):
        raise ProtocolError("bad_message", f"a '{mtype}' message needs an 'id'")
    token = obj.get("token", "")
    body = obj.get("body", {})
    descs = obj.get("frames", [])
    if not isinstance(token, str) or not isinstance(body, dict) or not isinstance(descs, list):
        raise ProtocolError("bad_message", "'token' must be a string, 'body' an object and "
                            "'frames' a list", rid)
    limit = MAX_PAYLOADS if requests else MAX_IMAGES + 1
    if max(len(descs), len(frames) - 1) > limit:
        raise ProtocolError("bad_frames", f"a {'request' if requests else 'event'} carries at "
                            f"most {limit} payload frames; this one has {len(frames) - 1} "
                            f"(its header describes {len(descs)})", rid)
    if len(descs) != len(frames) - 1:
        raise ProtocolError("bad_frames", f"the header describes {len(descs)} payload "
                            f"frame(s) but the message has {len(frames) - 1}; send one "
                            "'frames' entry per payload frame, in order", rid)
    images = [_image(d, _buffer(f), rid) for d, f in zip(descs, frames[1:], strict=True)]
    return Message(mtype, rid, body, images, token, version)


def _image(desc: Any, data: memoryview, rid: str) -> Image:
    if not isinstance(desc, dict):
        raise ProtocolError("bad_frames", "each frame description must be an object", rid)
    name, shape, dtype = desc.get("name", "image"), desc.get("shape"), desc.get("dtype")
    if not isinstance(name, str) or not re.fullmatch(r"[a-z_]{1,32}", name):
        raise ProtocolError("bad_frames", "frame 'name' must be 1-32 characters a-z or _", rid)
    if dtype == "bytes":  # a file's bytes (plan results): shape [N]
        if (not isinstance(shape, list) or len(shape) != 1 or not isinstance(shape[0], int)
                or isinstance(shape[0], bool) or not 1 <= shape[0] <= MAX_FRAME_BYTES):
            raise ProtocolError("bad_frames", f"frame '{name}': a bytes frame needs shape [N] "
                                f"with 1 <= N <= {MAX_FRAME_BYTES}", rid)
        if data.nbytes != shape[0]:
            raise ProtocolError("bad_frames", f"frame '{name}': shape {shape} needs {shape[0]} "
                                f"bytes, the frame has {data.nbytes}", rid)
        return Image((shape[0],), data, name)
    if dtype != "uint8":
        raise ProtocolError("bad_frames", f"frame '{name}': dtype must be \"uint8\" (an "
                            "image) or \"bytes\" (a file)", rid)
    if (not isinstance(shape, list) or len(shape) not in (2, 3)
            or not all(isinstance(s, int) and not isinstance(s, bool) for s in shape)
            or not all(1 <= s <= MAX_SIDE for s in shape[:2])
            or (len(shape) == 3 and shape[2] not in (1, 3, 4))):
        raise ProtocolError("bad_frames", f"frame '{name}': shape must be [H, W] or [H, W, C] "
                            f"with 1 <= H, W <= {MAX_SIDE} and C in 1, 3, 4", rid)
    expected = math.prod(shape)
    if data.nbytes != expected:
        raise ProtocolError("bad_frames", f"frame '{name}': shape {shape} needs {expected} "
                            f"bytes, the frame has {data.nbytes}", rid)
    return Image(tuple(shape), data, name)


def _buffer(frame: Any) -> memoryview:
    """A byte view of a frame without copying (zmq.Frame exposes ``.buffer``)."""
    buf = getattr(frame, "buffer", frame)
    view = buf if isinstance(buf, memoryview) else memoryview(buf)
    return view.cast("B") if view.format != "B" or view.ndim != 1 else view

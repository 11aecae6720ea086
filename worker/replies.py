"""The bodies of the events a worker sends back, as dataclasses checked at the client's edge.

Standard library only (vendored into the Krita and Blender plugins with the client). The
client decodes every event of a request with ``read_reply(request_type, msg)`` and hands it
out with ``msg.reply`` set: ``Queued``, ``Progress``, ``Cancelled``, ``Failure`` (an
``error`` event), and for ``result`` the type of the request's answer (``GenerateResult``,
``TrainResult``, ``PlanResult``, ``UpscaleResult``, ``CancelResult``, ``Capabilities``,
``ModelList``, ``Status``). A body that does not match raises ``ProtocolError`` naming the
field (the client turns it into that request's ``bad_message`` error). Fields a newer worker
adds are ignored. docs/protocol.md ("Reply types") is the human-readable version.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, TypeVar

from .fields import FRAMES, REST, ProtocolError, read
from .protocol import Image, Message, Reply

R = TypeVar("R", bound=Reply)


def _frames() -> Any:
    return field(default_factory=list, metadata={FRAMES: True}, repr=False)


# --- events of every job -------------------------------------------------------------------

@dataclass
class Queued(Reply):
    """``queued``: ``position`` jobs run before this one (0: next). A cluster gateway sends
    it again when the position changes, with ``requeued`` (why) when the job runs again."""

    position: int = 0
    requeued: str = ""


@dataclass
class Progress(Reply):
    """``progress``: ``step`` of ``total`` done (docs/protocol.md defines the units).
    Generate: an optional ``preview`` frame. Train: ``phase``, ``loss``, ``eta_s``,
    ``images_per_s``, ``message`` and ``samples`` (prompts, one ``sample`` frame each)."""

    step: int
    total: int
    phase: str = ""
    loss: float | None = None
    eta_s: float | None = None
    images_per_s: float | None = None
    message: str = ""
    samples: list[str] = field(default_factory=list)
    preview: Image | None = field(default=None, metadata={FRAMES: True}, repr=False)
    sample_images: list[Image] = _frames()

    def _attach(self, images: list[Image]) -> None:
        if self.step < 0 or self.total < 0:
            raise ProtocolError("bad_message", f"'step' and 'total' must be >= 0, got "
                                f"{self.step} of {self.total}")
        self.preview = next((im for im in images if im.name == "preview"), None)
        self.sample_images = [im for im in images if im.name == "sample"]
        if len(self.sample_images) != len(self.samples):
            raise ProtocolError("bad_message", f"'samples' names {len(self.samples)} prompt(s) "
                                f"but {len(self.sample_images)} 'sample' frame(s) came")


@dataclass
class Cancelled(Reply):
    """``cancelled``: ``step`` = the last finished step, in ``progress`` units."""

    reason: str = "cancel"
    step: int = 0


@dataclass
class Failure(Reply):
    """An ``error`` event: a stable ``code``, a ``message`` for people, and the code's own
    fields (``target``, ``refused_id``, ...) in ``details``."""

    code: str
    message: str = ""
    details: dict[str, Any] = field(default_factory=dict, metadata={REST: True})


@dataclass
class Heartbeat(Reply):
    """The worker's ``heartbeat`` (not a request's event): its session and state."""

    session: str = ""
    state: str = ""
    queued: int = 0


# --- results -----------------------------------------------------------------------------

@dataclass
class GenerateResult(Reply):
    """``generate``'s result: ``images`` (frames) with one ``provenance`` record each (kept
    as plain objects: hosts store them with the layers), A1111 ``parameters`` texts, ``svg``
    drawings (vector requests), ``history`` paths and ``warnings``."""

    provenance: list[dict[str, Any]]
    parameters: list[str] = field(default_factory=list)
    svg: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    history: list[str] = field(default_factory=list)
    model: str = ""
    backend: str = ""
    timing: dict[str, Any] = field(default_factory=dict)
    cluster: dict[str, Any] | None = None  # a cluster gateway's: node, dispatch order, wait
    images: list[Image] = _frames()

    def _attach(self, images: list[Image]) -> None:
        self.images = list(images)
        for name, items in (("provenance", self.provenance), ("parameters", self.parameters),
                            ("svg", self.svg)):
            if (items or name == "provenance") and len(items) != len(images):
                raise ProtocolError("bad_message", f"'{name}' has {len(items)} entries for "
                                    f"{len(images)} image frame(s); it needs one per image")

    def provenance_of(self, index: int) -> dict[str, Any]:
        """Image ``index``'s provenance with its A1111 text (``parameters``) added."""
        prov = dict(self.provenance[index])
        if index < len(self.parameters):
            prov["parameters"] = self.parameters[index]
        return prov


@dataclass
class SkippedFile:
    file: str
    reason: str


@dataclass
class TrainResult(Reply):
    """``train``'s result: the adapter ``name`` (``name-2`` when ``requested_name`` was
    taken), where it is, how it was trained, the files skipped, and the worker's adapter
    library after the job (``loras``)."""

    name: str
    requested_name: str = ""
    path: str = ""
    steps: int = 0
    resumed_from: int = 0
    loss: float | None = None
    images: int = 0
    skipped: list[SkippedFile] = field(default_factory=list)
    skipped_total: int = 0
    captions: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0
    images_per_s: float = 0.0
    metadata: dict[str, Any] = field(default_factory=dict)
    model: str = ""
    backend: str = ""
    loras: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    timing: dict[str, Any] = field(default_factory=dict)


@dataclass
class PlanVariant:
    index: int
    metrics: dict[str, Any] = field(default_factory=dict)
    layout: dict[str, Any] = field(default_factory=dict)
    frames: list[str] = field(default_factory=list)  # the names of its file frames, in order


@dataclass
class PlanResult(Reply):
    """``plan``'s result: the completed ``programme`` (the editable table), the variants and,
    per variant, its files (``files``: bytes frames in the order of ``variant.frames``)."""

    programme: dict[str, Any]
    variants: list[PlanVariant]
    provenance: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    history: list[str] = field(default_factory=list)
    timing: dict[str, Any] = field(default_factory=dict)
    files: list[Image] = _frames()

    def _attach(self, images: list[Image]) -> None:
        self.files = list(images)
        named = sum(len(v.frames) for v in self.variants)
        if named != len(images):
            raise ProtocolError("bad_message", f"the variants name {named} file frame(s) but "
                                f"{len(images)} came")

    def files_of(self, index: int) -> dict[str, Image]:
        """Variant ``index``'s files by format name (``svg``, ``geometry``, ``dxf``)."""
        start = sum(len(v.frames) for v in self.variants[:index])
        names = self.variants[index].frames
        return dict(zip(names, self.files[start:start + len(names)], strict=True))


@dataclass
class UpscaleResult(Reply):
    """``upscale``'s result: the enlarged ``image`` and how it was made (``method``:
    ``learned``, ``resampling`` (then ``notice`` says why) or ``diffusers``)."""

    scale: int
    width: int
    height: int
    method: str = ""
    model: str = "builtin"
    notice: str = ""
    warnings: list[str] = field(default_factory=list)
    timing: dict[str, Any] = field(default_factory=dict)
    image: Image | None = field(default=None, metadata={FRAMES: True}, repr=False)

    def _attach(self, images: list[Image]) -> None:
        if len(images) != 1:
            raise ProtocolError("bad_message", f"an upscale result carries one 'image' frame, "
                                f"this one {len(images)}")
        self.image = images[0]


@dataclass
class CancelResult(Reply):
    target: str
    was: str = ""
    at_step: int = 0


@dataclass
class ShutdownResult(Reply):
    stopping: bool = True


@dataclass
class OtherResult(Reply):
    """The result of a request type this client does not know: its body as it came."""

    body: dict[str, Any] = field(default_factory=dict, metadata={REST: True})
    images: list[Image] = _frames()

    def _attach(self, images: list[Image]) -> None:
        self.images = list(images)


# --- what the worker offers (hello, list_models) and its state (status) ---------------------

@dataclass
class GenerateDefaults:
    """What a ``generate`` request that leaves these out runs with, for one model."""

    steps: int
    guidance: float
    width: int
    height: int
    scheduler: str = ""


@dataclass
class TrainDefaults:
    """The ``train`` settings that suit a model; None: the protocol's (``TRAIN_DEFAULTS``)."""

    steps: int | None = None
    batch: int | None = None
    rank: int | None = None
    alpha: float | None = None
    learning_rate: float | None = None

    def given(self) -> dict[str, int | float]:
        return {k: v for k, v in vars(self).items() if v is not None}


@dataclass
class ModelEntry:
    """One model a worker offers. ``train_defaults`` None: it cannot be fine-tuned;
    ``train_look``: its training also learns a look (``render_steps`` applies)."""

    id: str
    backend: str = ""
    hash: str = ""
    sizes: list[int] = field(default_factory=list)
    default_size: int = 128
    description: str = ""
    train_defaults: TrainDefaults | None = None
    generate_defaults: GenerateDefaults | None = None
    vector: bool = False
    train_look: bool = False

    @property
    def defaults(self) -> GenerateDefaults:
        """Its generation defaults; an older worker without them: the built-in model's."""
        return self.generate_defaults or GenerateDefaults(20, 3.0, self.default_size,
                                                          self.default_size)


@dataclass
class RefusedFile:
    """A file a backend found in its models folder and will not load, and why."""

    file: str
    reason: str
    backend: str = ""


@dataclass
class Upscaler:
    """One upscaler ``upscale`` can use: ``builtin`` (kind ``learned`` or ``resampling``) or
    a diffusers upscaler folder (kind ``diffusers``, its ``pipeline`` class)."""

    id: str
    kind: str = ""
    scales: list[int] = field(default_factory=list)
    pipeline: str = ""


@dataclass
class ModelList(Reply):
    """``list_models``'s result."""

    models: list[ModelEntry]
    loras: list[str] = field(default_factory=list)
    refused: list[RefusedFile] = field(default_factory=list)

    def model(self, model_id: str) -> ModelEntry | None:
        return next((m for m in self.models if m.id == model_id), None)


@dataclass
class Capabilities(ModelList):
    """``hello``'s result: the protocol version, the models, adapters and refused files,
    the upscalers, the device and the limits."""

    protocol: str = ""
    worker: str = ""
    session: str = ""
    pid: int | None = None
    backends: list[str] = field(default_factory=list)
    device: str = ""
    load_error: str = ""
    heartbeat_interval: float = 0.5
    upscalers: list[Upscaler] = field(default_factory=list)
    history_dir: str = ""
    limits: dict[str, Any] = field(default_factory=dict)
    cluster: dict[str, Any] | None = None


@dataclass
class Status(Reply):
    """``status``'s result. A cluster gateway adds ``nodes`` and more (kept in ``extra``)."""

    state: str
    session: str = ""
    pid: int | None = None
    running: str | None = None
    queued: int = 0
    clients: int = 0
    jobs_done: int = 0
    uptime_s: float = 0.0
    load_error: str = ""
    history: dict[str, Any] | None = None
    nodes: list[dict[str, Any]] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict, metadata={REST: True})


EVENTS: dict[str, type[Reply]] = {"queued": Queued, "progress": Progress,
                                  "cancelled": Cancelled, "error": Failure,
                                  "heartbeat": Heartbeat}
RESULTS: dict[str, type[Reply]] = {
    "generate": GenerateResult, "train": TrainResult, "plan": PlanResult,
    "upscale": UpscaleResult, "cancel": CancelResult, "hello": Capabilities,
    "list_models": ModelList, "status": Status, "shutdown": ShutdownResult}


def read_reply(request_type: str, msg: Message) -> Reply:
    """The typed body of ``msg``, an event of a ``request_type`` request (a ``result``'s type
    depends on the request). ``ProtocolError`` (bad_message) names the malformed field."""
    kind = RESULTS.get(request_type, OtherResult) if msg.type == "result" else \
        EVENTS.get(msg.type)
    if kind is None:
        raise ProtocolError("bad_message", f"no '{msg.type}' event belongs to a request",
                            msg.id)
    where = f"'{request_type}' result" if msg.type == "result" else f"'{msg.type}' event"
    try:
        reply = read(kind, msg.body)
        attach = getattr(reply, "_attach", None)
        if attach is not None:
            attach(msg.images)
        elif msg.images and msg.type == "result":  # other events: ignored like new fields
            raise ProtocolError("bad_message", f"it carries {len(msg.images)} frame(s), none "
                                "expected")
    except ProtocolError as e:
        raise ProtocolError("bad_message", f"the worker's {where} is malformed: {e.message}",
                            msg.id) from None
    return reply


def reply_as(msg: Message, kind: type[R]) -> R:
    """``msg.reply`` as a ``kind``; ``ProtocolError`` if the client typed it otherwise (a
    ``result`` awaited from a request of another type)."""
    if not isinstance(msg.reply, kind):
        raise ProtocolError("bad_message", f"expected a {kind.__name__} reply, got "
                            f"{type(msg.reply).__name__}", msg.id)
    return msg.reply

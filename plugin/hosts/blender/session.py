"""The add-on's connection to a worker and its jobs, without bpy (tested outside Blender).

The client's I/O thread only puts events on a queue; Blender's main thread calls ``poll``
from a ``bpy.app.timers`` callback, which applies them to the jobs and hands the finished
ones back to the add-on. Nothing here ever waits on the worker, so Blender's UI never blocks.
"""

from __future__ import annotations

import contextlib
import queue
from array import array
from dataclasses import dataclass, field
from typing import Any

from .link import (
    Cancelled,
    Capabilities,
    ConnectionSettings,
    Failure,
    GenerateParams,
    GenerateResult,
    Image,
    Message,
    ModelEntry,
    Progress,
    Queued,
    TrainParams,
    TrainResult,
    WorkerClient,
    WorkerError,
    default_connection_file,
    read_connection_file,
)
from .pixels import rgba8_to_blender
from .training import TrainJob

PREFS_PATH = "Edit ▸ Preferences ▸ Add-ons ▸ T2I Studio"


def client_kwargs(settings: ConnectionSettings) -> dict[str, Any]:
    """``WorkerClient`` keyword arguments from the add-on preferences (``SettingsError``)."""
    return settings.client_kwargs("Blender", PREFS_PATH, default_connection_file,
                                  read_connection_file)


@dataclass
class Job:
    """One generate request as the add-on tracks it (touched on the main thread only)."""

    params: GenerateParams
    request: Any = None
    state: str = "sending"  # sending, queued, running, done, error, cancelled
    position: int = 0
    step: int = 0
    total: int = 0
    error: str = ""
    error_code: str = ""
    result: Message | None = None
    outputs: list[str] = field(default_factory=list)  # image datablock names, set by the add-on
    curves: list[str] = field(default_factory=list)  # collections of a vector result's curves
    blender_pixels: list[array] = field(default_factory=list)  # results as Blender floats
    preview: tuple[int, int, array] | None = None  # the latest progress preview, not shown yet

    @property
    def id(self) -> str:
        return self.request.id if self.request is not None else ""

    @property
    def active(self) -> bool:
        return self.state in ("sending", "queued", "running")

    @property
    def fraction(self) -> float:
        return self.step / self.total if self.total else 0.0


@dataclass
class PlanJob:
    """One floor-plan request (``plan``): its events end in a result with the programme and
    each variant's files as bytes frames (main thread only, like ``Job``)."""

    body: dict
    collection: str = ""  # rebuild this plan collection (re-solve), else make a new one
    request: Any = None
    state: str = "sending"
    step: int = 0
    total: int = 0
    error: str = ""
    error_code: str = ""
    result: Message | None = None

    @property
    def id(self) -> str:
        return self.request.id if self.request is not None else ""

    @property
    def active(self) -> bool:
        return self.state in ("sending", "queued", "running")

    def apply(self, ev: Message) -> None:
        reply = ev.reply
        if isinstance(reply, Queued):
            self.state = "queued"
        elif isinstance(reply, Progress):
            self.state = "running"
            self.step, self.total = reply.step, reply.total
        elif ev.type == "result":
            self.state, self.result = "done", ev
        elif isinstance(reply, Cancelled):
            self.state = "cancelled"
        elif isinstance(reply, Failure):
            self.state, self.error_code = "error", reply.code
            self.error = reply.message or reply.code

    def fail(self, code: str, message: str) -> None:
        self.state, self.error_code, self.error = "error", code, message


@dataclass
class UpscaleJob:
    """One ``upscale`` request: the image datablock ``source`` enlarged ``scale`` times
    (main thread only, like ``Job``; its events apply exactly as a plan's do)."""

    source: str
    scale: int
    request: Any = None
    state: str = "sending"
    step: int = 0
    total: int = 0
    error: str = ""
    error_code: str = ""
    result: Message | None = None
    output: str = ""  # the new image datablock, set by the add-on
    # called with (job, terminal event) by the add-on's timer; set by whoever submitted the
    # job (upscaling.py), so that the timer needs no import of the Upscale button's module
    on_finished: Any = None

    id = PlanJob.id
    active = PlanJob.active
    apply = PlanJob.apply
    fail = PlanJob.fail


class Session:
    """A ``WorkerClient`` plus the jobs submitted through it and what the worker offers."""

    def __init__(self, settings: ConnectionSettings, client_name: str = "blender") -> None:
        self.settings = settings
        self.client = WorkerClient(**client_kwargs(settings), on_worker_lost=self._on_worker_lost)
        self.client_name = client_name
        self._events: queue.SimpleQueue[tuple[Job | TrainJob | None, Message]] = \
            queue.SimpleQueue()
        self.jobs: list[Job] = []
        self.train_job: TrainJob | None = None  # the latest training, running or finished
        self.plan_job: PlanJob | None = None  # the latest floor plan, running or finished
        self.upscale_job: UpscaleJob | None = None  # the latest upscale, running or finished
        self.capabilities: Capabilities | None = None  # the worker's hello
        self.hellos = 0  # answers to ``hello`` applied so far (1 after connecting)
        self.connect_error = ""
        self.lost_reason = ""
        self.ask_capabilities()

    def ask_capabilities(self) -> None:
        """(Re-)ask the worker's ``hello``: models, adapters, sizes; ``poll`` applies it."""
        self.client.request("hello", {"client": self.client_name},
                            on_event=lambda ev: self._events.put((None, ev)))

    # --- what the worker offers (from hello) ---------------------------------------------

    @property
    def connected(self) -> bool:
        return self.capabilities is not None

    @property
    def models(self) -> list[ModelEntry]:
        return self.capabilities.models if self.capabilities is not None else []

    @property
    def loras(self) -> list[str]:
        return self.capabilities.loras if self.capabilities is not None else []

    def model(self, model_id: str) -> ModelEntry | None:
        return next((m for m in self.models if m.id == model_id), None)

    def sizes(self, model_id: str) -> list[int]:
        m = self.model(model_id)
        return list(m.sizes) if m is not None else []

    # --- jobs --------------------------------------------------------------------------------

    def submit(self, params: GenerateParams,
               init_image: tuple[int, int, bytes] | None = None) -> Job:
        """Queue a generate request; ``init_image`` is (width, height, top-down RGBA8)."""
        job = Job(params)
        image = None
        if init_image is not None:
            width, height, data = init_image
            image = Image((height, width, 4), data, "init_image")
        job.request = self.client.submit_generate(
            params, init_image=image, on_event=lambda ev: self._on_job_event(job, ev))
        self.jobs.append(job)
        return job

    def _on_job_event(self, job: Job, ev: Message) -> None:  # the client's I/O thread
        reply = ev.reply
        try:
            if isinstance(reply, Progress) and reply.preview is not None \
                    and reply.preview.channels == 4:
                im = reply.preview  # the latest preview replaces any not yet shown
                job.preview = (im.width, im.height, rgba8_to_blender(im.data, im.width,
                                                                       im.height))
            elif isinstance(reply, GenerateResult):
                # Convert here, off Blender's main thread (about 0.2 s for a 512 px image in
                # pure Python); the main thread then only copies the floats in.
                job.blender_pixels = [rgba8_to_blender(im.data, im.width, im.height)
                                      for im in reply.images]
        except ValueError:
            job.blender_pixels = []  # not RGBA: the main thread reports it
        finally:
            self._events.put((job, ev))  # whatever happens, the job must end

    def cancel(self, job: Job | None = None) -> int:
        """Cancel ``job``, or every active job; returns how many were asked to stop."""
        targets = [job] if job is not None else [j for j in self.jobs if j.active]
        for j in targets:
            if j.active and j.request is not None:
                j.request.cancel()
        return len(targets)

    @property
    def active_jobs(self) -> list[Job]:
        """The generate jobs still under way (training is ``train_job``)."""
        return [j for j in self.jobs if j.active]

    @property
    def training(self) -> bool:
        return self.train_job is not None and self.train_job.active

    @property
    def busy(self) -> bool:
        """Anything under way: the add-on polls often and keeps this session."""
        return bool(self.active_jobs) or self.training or any(
            j is not None and j.active for j in (self.plan_job, self.upscale_job))

    # --- floor plans ---------------------------------------------------------------------------

    def submit_plan(self, body: dict, collection: str = "") -> PlanJob:
        """Queue a ``plan`` request (text or an edited programme); returns at once."""
        job = PlanJob(body, collection)
        self.plan_job = job
        try:
            job.request = self.client.request("plan", body,
                                              on_event=lambda ev: self._events.put((job, ev)))
        except WorkerError as e:
            job.fail(e.code, e.message)
        return job

    # --- upscaling -----------------------------------------------------------------------------

    def submit_upscale(self, source: str, width: int, height: int, rgba8: bytes,
                       scale: int, on_finished: Any = None) -> UpscaleJob:
        """Queue an ``upscale`` of top-down RGBA8 pixels (the image datablock ``source``);
        returns at once. One at a time: the panel's button waits for the last one."""
        job = UpscaleJob(source, scale, on_finished=on_finished)
        self.upscale_job = job
        try:
            job.request = self.client.submit_upscale(
                Image((height, width, 4), rgba8, "image"), scale,
                on_event=lambda ev: self._events.put((job, ev)))
        except WorkerError as e:
            job.fail(e.code, e.message)
        return job

    # --- training ------------------------------------------------------------------------------

    def submit_train(self, params: TrainParams) -> TrainJob:
        """Queue a ``train`` request (one at a time from this session); returns at once.
        Model-dependent settings left None are filled by the worker per model."""
        if self.training:
            raise RuntimeError("a training job is already running: cancel it first")
        job = TrainJob(params)
        self.train_job = job
        try:
            job.request = self.client.submit_train(
                params, on_event=lambda ev: self._on_train_event(job, ev))
        except WorkerError as e:  # a closed client refuses at once: the job ends here
            job.fail(e.code, e.message)
        return job

    def _on_train_event(self, job: TrainJob, ev: Message) -> None:  # the client's I/O thread
        try:
            if isinstance(ev.reply, Progress) and ev.reply.sample_images:
                job.take_sample(ev.reply)
        except ValueError:
            pass  # a malformed preview is only a preview
        finally:
            self._events.put((job, ev))

    def cancel_training(self) -> bool:
        """Ask the running training to stop (it saves a checkpoint first)."""
        job = self.train_job
        if job is None or not job.active or job.request is None:
            return False
        job.request.cancel()
        return True

    def snapshot(self) -> tuple:
        """What the panel shows; the add-on redraws only when it changes."""
        t = self.train_job
        return (self.connected, self.connect_error, len(self.loras),
                tuple((j.id, j.state, j.step, j.position) for j in self.jobs[-3:]),
                (t.id, t.state, t.phase, t.step, t.loss) if t is not None else None)

    def poll(self) -> list[tuple[Job | TrainJob | PlanJob | UpscaleJob | None, Message]]:
        """Main thread: apply the events that arrived; return the terminal ones in order
        (``(None, msg)`` is the answer to ``hello``)."""
        finished: list[tuple[Job | TrainJob | None, Message]] = []
        while True:
            try:
                job, ev = self._events.get_nowait()
            except queue.Empty:
                break
            if job is None:
                if isinstance(ev.reply, Capabilities):
                    self.capabilities, self.connect_error = ev.reply, ""
                    self.hellos += 1
                elif isinstance(ev.reply, Failure):
                    self.connect_error = ev.reply.message or ev.reply.code
                elif ev.is_terminal:
                    self.connect_error = ev.type
                finished.append((None, ev))
                continue
            if isinstance(job, PlanJob | TrainJob | UpscaleJob):
                job.apply(ev)
                if isinstance(ev.reply, TrainResult):
                    self._adapter_added(ev.reply)
            else:
                self._apply(job, ev)
            if ev.is_terminal:
                finished.append((job, ev))
        done = [j for j in self.jobs if not j.active]
        if len(done) > 20:  # keep every active job and the last 20 finished ones
            drop = {id(j) for j in done[:-20]}
            self.jobs = [j for j in self.jobs if id(j) not in drop]
        return finished

    def _adapter_added(self, result: TrainResult) -> None:
        """A training result: the new adapter is in the list at once (the result carries
        the worker's library), and the capabilities are asked again for the rest."""
        if self.capabilities is not None:
            self.capabilities.loras = list(result.loras)
        with contextlib.suppress(WorkerError):
            self.ask_capabilities()

    @staticmethod
    def _apply(job: Job, ev: Message) -> None:
        reply = ev.reply
        if isinstance(reply, Queued):
            job.state, job.position = "queued", reply.position
        elif isinstance(reply, Progress):
            job.state = "running"
            job.step, job.total = reply.step, reply.total
        elif isinstance(reply, GenerateResult):
            job.state, job.result = "done", ev
            job.step = job.total = job.total or job.params.steps or 1
        elif isinstance(reply, Cancelled):
            job.state = "cancelled"
        elif isinstance(reply, Failure):
            job.state = "error"
            job.error_code = reply.code
            job.error = reply.message or reply.code

    def _on_worker_lost(self, ids: list[str], reason: str) -> None:  # client I/O thread
        self.lost_reason = reason

    def close(self) -> None:
        """Stop the client (and a worker it started). Blocks for at most a few seconds."""
        with contextlib.suppress(WorkerError):
            self.client.close()


def job_summary(job: Job) -> str:
    """One line for the panel: what the job is doing."""
    if job.state == "sending":
        return "Connecting to the worker…"
    if job.state == "queued":
        return f"Queued ({job.position} ahead)" if job.position else "Starting…"
    if job.state == "running":
        return f"Step {job.step}/{job.total}"
    if job.state == "done":
        return f"Done: {len(job.outputs)} image(s)"
    if job.state == "cancelled":
        return "Cancelled"
    return f"Error: {job.error}"

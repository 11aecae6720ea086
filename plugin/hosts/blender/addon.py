"""The session's lifetime and the timer that brings results into Blender.

The worker client runs on its own thread; this module's ``tick`` runs on Blender's main
thread from ``bpy.app.timers`` and is the only place that turns worker events into
datablocks, progress and reports. Operators only submit and return at once. Registration
is the package's (``__init__``), the one module above operators, panels and this one.
"""

from __future__ import annotations

import contextlib
import random
import sys

import bpy

from . import state
from .images import TRAIN_SAMPLE_NAME, is_ours, new_result_image, remove_preview, show_preview
from .pixels import rgba8_to_blender
from .provenance import image_name, provenance_properties

TICK_BUSY = 0.1  # seconds between polls while a job runs or the worker is connecting
TICK_IDLE = 1.0  # while idle (heartbeats still keep the connection alive in the client)


def ensure_session(context: bpy.types.Context, reconnect: bool = False):
    """The live session for the current preferences (made, or remade if they changed)."""
    from .preferences import connection_settings
    from .session import Session

    settings = connection_settings(context)
    s = state.session
    if s is not None and (reconnect or s.settings != settings):
        if s.busy and not reconnect:
            return s  # never drop running jobs because a preference was edited
        close_session()
    if state.session is None:
        # SettingsError / ImportError propagate: the operator reports them.
        state.session = Session(settings, client_name=f"blender-{bpy.app.version_string}")
        start_timer()
    return state.session


def close_session() -> None:
    s, state.session = state.session, None
    if s is not None:
        s.close()


def start_timer() -> None:
    if not bpy.app.timers.is_registered(tick):
        bpy.app.timers.register(tick, first_interval=TICK_BUSY, persistent=True)


def report(level: str, message: str) -> None:
    """Blender's own reporting from outside an operator (status bar, Info log, console)."""
    if level == "ERROR":
        state.last_error = message
    else:
        state.last_info, state.last_error = message, ""
    try:
        bpy.ops.t2i.report(level=level, message=message)
    except RuntimeError:
        pass  # an ERROR report is also raised back to the caller: it has been reported
    except Exception:  # noqa: BLE001 - e.g. no window during shutdown: still say it
        print(f"T2I {level}: {message}", file=sys.stderr)


def tick() -> float | None:
    """The ``bpy.app.timers`` callback: apply worker events; the return value is the delay
    until the next call (None stops the timer: no session left)."""
    s = state.session
    if s is None:
        return None
    for job, ev in s.poll():
        if job is None:
            if s.connected and ev.type == "result":
                _show_model_defaults(s)
            if ev.type != "result":
                report("ERROR", f"T2I: cannot reach the worker: {s.connect_error}")
                if not s.busy:
                    # Stop the client retrying (and respawning) in the background; the
                    # next Generate or Connect reads the preferences again.
                    close_session()
                    _redraw()
                    return None
            continue
        if job is s.train_job:
            training_finished(job)
            continue
        if job is s.plan_job:
            plan_finished(job, ev)
            continue
        if job is s.upscale_job:
            if job.on_finished is not None:
                job.on_finished(job, ev)
            _redraw()
            continue
        if ev.type == "result":
            try:
                store_results(job, ev)
            except (ValueError, RuntimeError) as e:  # e.g. not an RGBA frame: say so, go on
                job.state, job.error = "error", f"cannot store the result: {e}"
                report("ERROR", f"T2I: {job.error}")
                continue
            _undo_push("T2I result")
        elif ev.type == "cancelled":
            report("INFO", "T2I: generation cancelled")
        else:
            report("ERROR", f"T2I: {job.error}")
    for job in s.active_jobs:
        if job.preview is not None:
            width, height, floats = job.preview
            job.preview = None
            _show_in_image_editors(show_preview(width, height, floats))
    if not s.active_jobs:
        remove_preview()
    if s.train_job is not None and s.train_job.sample is not None:
        width, height, floats, prompt = s.train_job.sample
        s.train_job.sample = None
        show_train_sample(width, height, floats, prompt)
    shown = s.snapshot()
    if shown != state.shown:
        state.shown = shown
        _show_progress(s)
        _show_training(s.train_job)
        _redraw()
    return TICK_BUSY if s.busy or not s.connected and not s.connect_error else TICK_IDLE


def _show_model_defaults(session) -> None:
    """The worker's model list arrived: each scene shows its model's own settings."""
    from .model_defaults import show_defaults

    for scene in bpy.data.scenes:
        if hasattr(scene, "t2i"):
            show_defaults(scene.t2i, session.model(scene.t2i.model))


def plan_finished(job, ev) -> None:
    """A plan's terminal event: build (or rebuild) its collection, or say what went wrong."""
    from . import plan

    if ev.type != "result":
        state.plan_message = job.error or "the plan was cancelled"
        report("ERROR" if ev.type == "error" else "INFO", f"T2I: {state.plan_message}")
        _redraw()
        return
    try:
        collection = plan.build_from_result(bpy.context, ev, job.collection)
    except (ValueError, KeyError, RuntimeError) as e:
        state.plan_message = f"cannot build the plan: {e}"
        report("ERROR", f"T2I: {state.plan_message}")
        return
    result = ev.reply
    lay = result.variants[0].layout
    parts = [f"{collection.name}: {lay['width']:g} × {lay['depth']:g} m, "
             f"{len(lay['rooms'])} rooms."]
    if result.unknown:
        parts.append(f"Not understood: {', '.join(result.unknown)}.")
    state.plan_message = " ".join(parts)
    _undo_push("T2I plan")
    _redraw()


def training_finished(job) -> None:
    """Report a training's end; the result text stays in the Train panel."""
    from .training import outcome_text

    generation_error = state.last_error
    report("INFO" if job.state in ("done", "cancelled") else "ERROR",
           f"T2I: {outcome_text(job).replace(chr(10), ' ')}")
    state.last_error = generation_error  # the Train panel shows its own outcome


def show_train_sample(width: int, height: int, floats, prompt: str) -> None:
    """The latest training preview in its own scratch image. Nothing points at it (the
    panel finds it by name), so it is not saved with the .blend."""
    img = show_preview(width, height, floats, name=TRAIN_SAMPLE_NAME)
    img["t2i_sample_prompt"] = prompt


def _show_training(job) -> None:
    """Mirror the training's progress in the scenes' bar-like property (drawn read-only)."""
    if job is None:
        return
    for scene in bpy.data.scenes:
        if hasattr(scene, "t2i"):
            scene.t2i.train_progress = 100.0 * job.fraction


def store_results(job, ev) -> list[bpy.types.Image]:
    """Each result image as a packed datablock with its provenance; shown in Image Editors.
    A vector result's drawings also become curve objects (``vectors.py``)."""
    result = ev.reply  # a GenerateResult (Session._apply keeps only those)
    history, svgs = result.history, result.svg
    images = []
    curves: list[str] = []
    for i, frame in enumerate(result.images):
        prov = result.provenance[i]
        extra = {"history": history[i] if i < len(history) else "", "request": job.id}
        height, width = frame.shape[0], frame.shape[1]
        floats = job.blender_pixels[i] if i < len(job.blender_pixels) \
            else rgba8_to_blender(frame.data, width, height)
        img = new_result_image(image_name(str(prov.get("prompt", job.params.prompt)),
                                          int(prov.get("seed", job.params.seed + i))),
                               width, height, floats, provenance_properties(prov, extra))
        job.outputs.append(img.name)
        images.append(img)
        svg = svgs[i] if i < len(svgs) else None
        if svg is not None:  # a vector result: curves next to the image datablock
            from .vectors import VectorImportError, import_svg_curves

            try:
                curves.append(import_svg_curves(bpy.context, svg, img.name, prov,
                                                img.name).name)
            except VectorImportError as e:
                report("WARNING", f"T2I: {img.name}: {e}; the image was kept")
    job.curves = curves
    # The pixels now live in the datablocks: do not keep a second and third copy around.
    job.blender_pixels = []
    ev.images, result.images = [], []
    if images:
        for scene in bpy.data.scenes:
            if hasattr(scene, "t2i"):
                scene.t2i.last_result = images[0]
        _show_in_image_editors(images[0])
    warnings = "; ".join(result.warnings)
    report("WARNING" if warnings else "INFO",
           f"T2I: {len(images)} image(s): {', '.join(job.outputs)}"
           + (f"; curves in {', '.join(curves)}" if curves else "")
           + (f" (worker warnings: {warnings})" if warnings else ""))
    return images


def _undo_push(message: str) -> None:
    # Datablocks made in a timer are outside the undo stack: without a step of their own,
    # undoing the user's next action would also remove them.
    if not bpy.app.background:
        with contextlib.suppress(RuntimeError):
            bpy.ops.ed.undo_push(message=message)


def _show_in_image_editors(image: bpy.types.Image) -> None:
    """Show ``image`` in every Image Editor that shows nothing or one of ours (never
    replace an image the user is working on)."""
    wm = bpy.context.window_manager
    for window in wm.windows if wm else []:
        for area in window.screen.areas:
            if area.type == "IMAGE_EDITOR" and is_ours(area.spaces.active.image):
                area.spaces.active.image = image


def _show_progress(s) -> None:
    if bpy.app.background:
        return
    wm = bpy.context.window_manager
    active = s.active_jobs
    if active:
        wm.progress_begin(0, 100)
        wm.progress_update(int(100 * sum(j.fraction for j in active) / len(active)))
    else:
        wm.progress_end()


def _redraw() -> None:
    wm = bpy.context.window_manager
    for window in wm.windows if wm else []:
        for area in window.screen.areas:
            if area.type in ("IMAGE_EDITOR", "VIEW_3D", "PREFERENCES"):
                area.tag_redraw()


def next_seed(settings) -> int:
    if settings.random_seed:
        settings.seed = random.randrange(0, 2 ** 31 - 1)
    return settings.seed

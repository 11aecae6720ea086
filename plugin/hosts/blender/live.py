"""Live mode in Blender: one-step previews (model ``live``) follow the prompt as it is typed.

The same rules as the Qt panels (plugin/panel/live.py): a 50 ms debounce, the last request
wins (the one before it is cancelled, late events of stale requests are dropped), and one
preview image datablock, ``T2I Live``, whose pixels are replaced in place.

Blender's text field hands its text to the property only on Enter, so Live has two inputs:
- a ``bpy.app.timers`` callback (every 10 ms while Live is on) that reads the settings:
  an edit committed in the sidebar's field (Enter), the seed or the size, starts an update;
- the "Type live" modal operator (``t2i.live_type``): while it runs, the keys typed over the
  Image Editor or 3D Viewport go into the prompt one by one (Backspace deletes, Enter or Esc
  ends), the area's header shows the text, and every key restarts the debounce.

``LiveRequests`` holds the rules and no bpy, so it is tested outside Blender too.
"""

from __future__ import annotations

import json
import queue
import time
from array import array
from dataclasses import dataclass, field
from typing import Any

from .provenance import LIVE_IMAGE

LIVE_MODEL = "live"
DEBOUNCE_S = 0.05  # as plugin/panel/live.py's DEBOUNCE_MS
TICK_S = 0.01


@dataclass
class LiveUpdate:
    """A live result for the current request: the pixels as Blender floats."""

    width: int
    height: int
    floats: array
    provenance: dict[str, Any] = field(default_factory=dict)


class LiveRequests:
    """Debounce, last-request-wins and stale-event dropping (no bpy)."""

    def __init__(self, debounce_s: float = DEBOUNCE_S) -> None:
        self.debounce_s = debounce_s
        self.pending: Any = None  # GenerateParams waiting for its debounce to pass
        self.due = 0.0
        self.wanted_key: tuple | None = None  # what the last change asked for
        self.current: Any = None  # the request whose result may land
        self.sent: list[Any] = []  # every request's params (tests, benchmarks)
        self.cancelled = 0
        self.ignored_events = 0
        self.error = ""
        self._events: queue.SimpleQueue = queue.SimpleQueue()

    def want(self, params: Any, now: float | None = None) -> bool:
        """The settings now; a change (re)starts the debounce. True when it was a change."""
        key = (params.prompt, params.negative_prompt, params.seed, params.width)
        if key == self.wanted_key or not params.prompt:
            return False
        self.wanted_key = key
        self.pending = params
        self.due = (time.monotonic() if now is None else now) + self.debounce_s
        return True

    def tick(self, session: Any, now: float | None = None) -> LiveUpdate | None:
        """Send a debounced request, then apply what arrived; the newest result of the
        current request, if any."""
        from .link import Failure, GenerateResult

        now = time.monotonic() if now is None else now
        if self.pending is not None and now >= self.due:
            params, self.pending = self.pending, None
            if self.current is not None:
                self.current.cancel()  # the last request wins: no backlog in the worker
                self.cancelled += 1
            self.current = session.client.submit_generate(params, on_event=self._on_event)
            self.sent.append(params)
        update = None
        while True:
            try:
                request_id, ev, floats = self._events.get_nowait()
            except queue.Empty:
                break
            if self.current is None or request_id != self.current.id:
                self.ignored_events += 1  # a stale request answering late
                continue
            reply = ev.reply
            if isinstance(reply, GenerateResult) and floats is not None and reply.images:
                update = LiveUpdate(reply.images[0].width, reply.images[0].height, floats,
                                    dict(reply.provenance[0]))
                self.error = ""
            elif isinstance(reply, Failure):
                self.error = reply.message or reply.code
            if ev.is_terminal:
                self.current = None
        return update

    def _on_event(self, ev: Any) -> None:  # the client's I/O thread: convert here
        from .link import GenerateResult
        from .pixels import rgba8_to_blender

        floats = None
        reply = ev.reply
        if isinstance(reply, GenerateResult) and reply.images and reply.images[0].channels == 4:
            im = reply.images[0]
            floats = rgba8_to_blender(im.data, im.width, im.height)
        self._events.put((ev.id, ev, floats))

    def stop(self) -> None:
        if self.current is not None:
            self.current.cancel()
            self.cancelled += 1
        self.current = self.pending = self.wanted_key = None

    @property
    def busy(self) -> bool:
        return self.pending is not None or self.current is not None


# --- Blender glue -------------------------------------------------------------------------

controller: LiveRequests | None = None
typing = {"active": False}  # the Type-live operator is running


def live_params(settings: Any) -> Any:
    from .link import GenerateParams

    size = int(settings.size) if str(settings.size).isdigit() else 128
    return GenerateParams(prompt=settings.prompt.strip(),
                          negative_prompt=settings.negative_prompt.strip(), seed=settings.seed,
                          width=size, height=size, count=1, steps=1, guidance=0.0,
                          model=LIVE_MODEL)


def start(context: Any) -> None:
    """Live turned on: connect if needed, run the live timer."""
    import bpy

    from . import addon

    global controller
    addon.ensure_session(context)
    if controller is None:
        controller = LiveRequests()
    if not bpy.app.timers.is_registered(live_tick):
        bpy.app.timers.register(live_tick, first_interval=TICK_S, persistent=True)


def stop() -> None:
    """Live turned off: cancel the request in flight, drop the preview image."""
    import bpy

    global controller
    if bpy.app.timers.is_registered(live_tick):
        bpy.app.timers.unregister(live_tick)
    if controller is not None:
        controller.stop()
    controller = None
    img = bpy.data.images.get(LIVE_IMAGE)
    if img is not None:
        bpy.data.images.remove(img)


def live_tick() -> float | None:
    import bpy

    from . import state

    scene = bpy.context.scene
    if controller is None or scene is None or not scene.t2i.live or state.session is None:
        return None
    session = state.session
    if not session.connected:  # the add-on's own timer applies the worker's hello
        return TICK_S * 5
    controller.want(live_params(scene.t2i))
    update = controller.tick(session)
    if update is not None:
        show_live_image(update)
    return TICK_S


def show_live_image(update: LiveUpdate) -> Any:
    """The one live image datablock, its pixels replaced in place (same datablock, also
    when the size changes: ``scale`` then the new pixels)."""
    import bpy

    from .addon import _redraw, _show_in_image_editors

    img = bpy.data.images.get(LIVE_IMAGE)
    if img is None:
        img = bpy.data.images.new(LIVE_IMAGE, update.width, update.height, alpha=True)
        img.colorspace_settings.name = "sRGB"
        img.alpha_mode = "STRAIGHT"
    elif tuple(img.size) != (update.width, update.height):
        img.scale(update.width, update.height)
    img.pixels.foreach_set(update.floats)
    img.update()
    img["t2i_live_prompt"] = str(update.provenance.get("prompt", ""))
    img["t2i_live_provenance"] = json.dumps(update.provenance, sort_keys=True)  # for Pin
    img["t2i_live_updates"] = int(img.get("t2i_live_updates", 0)) + 1
    _show_in_image_editors(img)
    _redraw()
    return img


def type_key(prompt: str, event_type: str, unicode: str) -> tuple[str, bool]:
    """One key of the Type-live operator: (the new prompt, whether typing goes on)."""
    if event_type in ("RET", "NUMPAD_ENTER", "ESC"):
        return prompt, False
    if event_type == "BACK_SPACE":
        return prompt[:-1], True
    if unicode and unicode.isprintable():
        return prompt + unicode, True
    return prompt, True


def _live_changed(settings: Any, context: Any) -> None:
    """The Live toggle's update callback."""
    from . import state

    if settings.live:
        try:
            start(context)
        except Exception as e:  # noqa: BLE001 - settings or pyzmq: say it in the panel
            state.last_error = f"Live: {e}"
            settings.live = False
    else:
        stop()

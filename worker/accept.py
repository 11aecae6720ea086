"""A job request, accepted once at the edge: the one rule for a worker and a cluster gateway.

A desktop worker (worker/server.py, worker/runner.py) and a cluster gateway
(worker/cluster/edge.py) both take ``generate`` / ``train`` / ``plan`` / ``upscale`` bodies
from clients. What makes a body acceptable is decided here, once, so the two can never drift:

- ``incoming`` / ``decode_request``: the requests waiting on a ROUTER socket, each a client's
  multipart frames as a message, or the ``error`` reply that answers frames that are not one
  (the server never goes down on a hostile frame);
- ``parse_job``: the message's body as its typed params, its frames (only the ones that kind
  takes, each once), and a warning for unknown fields (``ProtocolError`` otherwise);
- ``generate_request``: a generate body for a model (the model as ``hello`` lists it):
  the settings the request left out are the model's own defaults, then the checks a backend
  relies on (size, steps, mask, LoRA names, vector output);
- ``train_request``: a train body for a model: the model's training defaults, ranges, name;
- ``plan_programme`` / ``upscale_image``: the checks that need no model at all.

What only the machine that runs the job can see (the training folder, an adapter file, a
user's diffusers upscaler) is checked there, when the job starts.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

import zmq

from worker import protocol as P

log = logging.getLogger("worker")

JOB_PARAMS: dict[str, Any] = {"generate": P.GenerateParams, "train": P.TrainParams,
                              "plan": P.PlanParams, "upscale": P.UpscaleParams}
JOB_FRAMES: dict[str, set[str]] = {"generate": {"init_image", "mask"}, "upscale": {"image"}}
BUILTIN_UPSCALER = ("", "builtin")


def decode_request(frames: list) -> tuple[bytes, P.Message | None, P.Message | None]:
    """(client identity, the message or None, the error reply or None) from a ROUTER's
    ``recv_multipart(copy=False)``."""
    identity = frames[0].bytes
    try:
        return identity, P.decode(frames[1:]), None
    except P.ProtocolError as e:
        rid = e.request_id or (P.peek_id(frames[1].buffer) if len(frames) > 1 else "")
        return identity, None, P.error(rid, e.code, e.message)
    except Exception as e:  # noqa: BLE001 - the edge must never take the server down
        log.exception("undecodable message")
        return identity, None, P.error("", "bad_message", f"undecodable: {e!r}"[:200])


def incoming(router: zmq.Socket, refuse: Callable[[bytes, P.Message], None],
             limit: int = 1000) -> Iterator[tuple[bytes, P.Message, list]]:
    """The requests waiting on ``router`` (at most ``limit``, so one busy client cannot hold
    the loop), decoded: (identity, message, the raw frames). A malformed one is answered with
    its refusal through ``refuse`` and skipped."""
    for _ in range(limit):
        try:
            frames = router.recv_multipart(zmq.NOBLOCK, copy=False)
        except zmq.Again:
            return
        identity, msg, refusal = decode_request(frames)
        if msg is None:
            refuse(identity, refusal)
            continue
        yield identity, msg, frames


def parse_job(msg: P.Message) -> tuple[Any, dict[str, Any], list[str]]:
    """(params, frames as numpy arrays that own their bytes, warnings)."""
    params, unknown = JOB_PARAMS[msg.type].from_body(msg.body, msg.id)
    names = [im.name for im in msg.images]
    extra = set(names) - JOB_FRAMES.get(msg.type, set())
    if extra or len(set(names)) != len(names):
        raise P.ProtocolError("bad_frames", f"unexpected frames {sorted(extra or names)}; a "
                              "generate request takes 'init_image' and 'mask' (once each), an "
                              "upscale request 'image', a train or plan request none", msg.id)
    arrays = {im.name: im.to_numpy().copy() for im in msg.images}
    warnings = [f"ignored unknown field(s): {', '.join(unknown)}"] if unknown else []
    return params, arrays, warnings


def generate_defaults(default_size: int, own: Mapping[str, Any] | None) -> dict[str, Any]:
    """A model's complete generation defaults: its own over the built-in model's."""
    size = int(default_size)
    return {**P.GENERATE_DEFAULTS, "width": size, "height": size, **(own or {})}


def generate_request(p: P.GenerateParams, images: Mapping[str, Any], model: Mapping[str, Any],
                     models: Callable[[], Iterable[Mapping[str, Any]]]) -> Any:
    """The checked ``GenerateRequest`` for ``model`` (its dict as ``hello`` lists it);
    ``models``: every model offered (named in the error when this one has no vector output).
    Raises ``T2IError`` with the code and message the client sees."""
    from t2i_core.backends.base import GenerateRequest, LoraRef

    p = p.filled(generate_defaults(model.get("default_size") or 128,
                                   model.get("generate_defaults")))
    mask = images.get("mask")
    if mask is not None and mask.ndim == 3 and mask.shape[2] == 1:
        mask = mask[:, :, 0]
    request = GenerateRequest(
        prompt=p.prompt, negative_prompt=p.negative_prompt, seed=p.seed, width=p.width,
        height=p.height, count=p.count, steps=p.steps, guidance=p.guidance, model=p.model,
        init_image=images.get("init_image"), strength=p.strength, mask=mask,
        loras=[LoraRef(lo.name, lo.weight) for lo in p.loras], scheduler=p.scheduler,
        vector=p.vector)
    request.validate(sizes=tuple(model.get("sizes") or ()) or None)
    if request.vector and not model.get("vector"):
        from t2i_core.errors import T2IError

        offering = ", ".join(m["id"] for m in models() if m.get("vector"))
        raise T2IError("unsupported", f"model '{model['id']}' has no vector output; turn "
                       f"Vector off, or use {offering or 'an icon model'}")
    return request


def train_request(p: P.TrainParams, model: Mapping[str, Any]) -> Any:
    """The checked ``TrainRequest`` for ``model``: settings left out are the model's own (an
    SD UNet wants a far smaller batch and learning rate than the built-in model), then the
    protocol's. ``T2IError`` for a range or a name. (Whether the model trains at all is the
    caller's question: a worker asks its backend, a gateway its nodes.)"""
    from t2i_core.finetune.library import check_name
    from t2i_core.finetune.request import TrainRequest

    request = TrainRequest(**{**P.TRAIN_DEFAULTS, **(model.get("train_defaults") or {}),
                              **p.to_body()})
    request.validate()
    check_name(request.name)
    if not model.get("train_look"):  # e.g. an SD model: its trainer has no look to train
        request.refuse_look(str(model.get("id", p.model)))
    return request


def plan_programme(p: P.PlanParams) -> Any:
    """The programme to solve (the prompt parsed, or the edited table checked) after the
    range checks; ``T2IError`` for "no rooms", "200 rooms", a broken table ..."""
    from t2i_core.errors import T2IError
    from t2i_core.plan import MAX_VARIANTS
    from t2i_core.plan.parser import programme_from_text  # light: no OR-Tools, no shapely
    from t2i_core.plan.programme import Programme

    prog = (Programme.from_dict(p.programme) if p.programme is not None  # solved as it is
            else programme_from_text(p.prompt))
    if not 1 <= p.variants <= MAX_VARIANTS:
        raise T2IError("bad_request", f"variants must be 1-{MAX_VARIANTS}, got {p.variants}")
    if not 0.05 <= p.time_limit <= 30:
        raise T2IError("bad_request", f"time_limit must be 0.05-30 (solver work seconds per "
                       f"variant), got {p.time_limit}")
    return prog


def upscale_image(p: P.UpscaleParams, images: Mapping[str, Any]) -> Any:
    """The image to enlarge as uint8 RGBA, checked with the scale. A user's diffusers
    upscaler (``p.model``) is resolved, and its own scale checked, by the worker that has it."""
    from t2i_core.enhance import SCALES
    from t2i_core.enhance.upscale import check_image
    from t2i_core.errors import T2IError

    image = images.get("image")
    if image is None:
        raise T2IError("bad_frames", "upscale needs the image as a frame named 'image' "
                       "(uint8 [H, W, 4] RGBA)")
    if image.ndim == 2:
        image = image[..., None]
    if image.shape[2] == 1:  # grey: the same value in R, G and B
        image = image.repeat(3, axis=2)
    image = check_image(image)
    if p.model not in BUILTIN_UPSCALER:
        if not 1 <= p.steps <= 200:
            raise T2IError("bad_steps", f"steps must be 1-200, got {p.steps}")
    elif p.scale not in SCALES:
        raise T2IError("bad_scale", f"scale {p.scale} is not supported; use one of "
                       f"{', '.join(map(str, SCALES))}")
    h, w = image.shape[:2]
    if max(h, w) * p.scale > P.MAX_SIDE:
        raise T2IError("image_too_large", f"a {w}x{h} image at {p.scale}x would be "
                       f"{w * p.scale}x{h * p.scale} px, over the {P.MAX_SIDE} px a result "
                       "can carry; pick a smaller scale or upscale a crop")
    return image

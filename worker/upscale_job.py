"""The worker's ``upscale`` job: enlarge one image frame 2x/4x/8x/16x.

It queues and runs like a generate job (runner thread, fair queue, cancel before it starts),
so a 16x upscale never blocks heartbeats. The request is checked before it is queued
(``prepare_upscale``); the result says which method ran: ``learned`` (the built-in icon
upscaler) or ``resampling`` (its weights are missing: the no-learning resampler, with the
notice saying so).
"""

from __future__ import annotations

from typing import Any

from worker import protocol as P


def prepare_upscale(job: Any) -> None:
    from t2i_core.enhance import SCALES
    from t2i_core.enhance.upscale import check_image
    from t2i_core.errors import T2IError

    image = job.images.get("image")
    if image is None:
        raise T2IError("bad_frames", "upscale needs the image as a frame named 'image' "
                       "(uint8 [H, W, 4] RGBA)")
    if image.ndim == 2:
        image = image[..., None]
    if image.shape[2] == 1:  # grey: the same value in R, G and B
        image = image.repeat(3, axis=2)
    image = check_image(image)
    scale = job.params.scale
    if scale not in SCALES:
        raise T2IError("bad_scale", f"scale {scale} is not supported; use one of "
                       f"{', '.join(map(str, SCALES))}")
    h, w = image.shape[:2]
    if max(h, w) * scale > P.MAX_SIDE:
        raise T2IError("image_too_large", f"a {w}x{h} image at {scale}x would be "
                       f"{w * scale}x{h * scale} px, over the {P.MAX_SIDE} px a result can "
                       "carry; pick a smaller scale or upscale a crop")
    job.prepared = (image, scale)


def run_upscale(job: Any) -> P.Message:
    """Returns the terminal ``result``; raises ``T2IError`` for the runner to report."""
    import time

    from t2i_core.enhance.upscale import default_enhancer

    image, scale = job.prepared
    enhancer = default_enhancer()
    t0 = time.monotonic()
    out = enhancer.upscale(image, scale)
    h, w = out.shape[:2]
    body = {"scale": scale, "width": w, "height": h,
            "method": "learned" if enhancer.learned else "resampling",
            "notice": enhancer.notice, "warnings": list(job.warnings),
            "timing": {"queued_s": round(job.started - job.submitted, 4),
                       "run_s": round(time.monotonic() - t0, 4)}}
    return P.Message("result", job.id, body, [P.Image.from_numpy(out, "image")])

"""Users' own Stable-Diffusion-family models (SD 1.x, 2.x, SDXL incl. Turbo, SD3) via diffusers.

See docs/diffusers.md. The backend class is imported lazily so that ``import
t2i_core.backends.diffusers_backend.detect`` (the scanner) stays cheap.
"""

from __future__ import annotations

from typing import Any

__all__ = ["DiffusersBackend"]


def __getattr__(name: str) -> Any:
    if name == "DiffusersBackend":
        from t2i_core.backends.diffusers_backend.backend import DiffusersBackend

        return DiffusersBackend
    raise AttributeError(name)

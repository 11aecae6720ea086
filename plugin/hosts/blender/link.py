"""Where the worker client comes from (no bpy).

In the add-on zip, ``t2i package blender`` vendors the worker client (``worker/client.py``
and the modules it imports)
as ``_vendor/t2i_worker`` and, when asked, pyzmq as ``_vendor/site``. Run from a source
checkout (the tests), the project's own ``worker`` package is used instead.

pyzmq: Blender's own Python is tried first (Debian's blender sees ``python3-zmq``); only if
it has none is the vendored copy put on ``sys.path``.
"""

from __future__ import annotations

import contextlib
import json
import sys
from pathlib import Path

VENDOR = Path(__file__).with_name("_vendor")
SITE = VENDOR / "site"


def _ensure_zmq() -> None:
    try:
        import zmq  # noqa: F401
        return
    except ImportError as e:
        host_error = e
    if not SITE.is_dir():
        raise ImportError(
            f"Blender's Python {sys.version_info.major}.{sys.version_info.minor} has no "
            f"pyzmq ({host_error}) and this add-on was built without it: rebuild it with "
            "`t2i package blender` (which vendors pyzmq) or install pyzmq into Blender's "
            "Python") from None
    for name in [m for m in sys.modules if m == "zmq" or m.startswith("zmq.")]:
        del sys.modules[name]  # a half-imported host copy must not shadow the vendored one
    sys.path.insert(0, str(SITE))
    try:
        import zmq  # noqa: F401
    except ImportError as e:
        built_for = "?"
        with contextlib.suppress(OSError, ValueError, KeyError):
            built_for = json.loads((SITE / "VENDORED.json").read_text())["python"]
        raise ImportError(
            f"the pyzmq vendored in this add-on (built for Python {built_for}) does not load "
            f"in Blender's Python {sys.version_info.major}.{sys.version_info.minor}: {e}. "
            f"Rebuild the add-on with `t2i package blender --python-version "
            f"{sys.version_info.major}.{sys.version_info.minor}`") from None


_ensure_zmq()

if (VENDOR / "t2i_worker").is_dir():
    from ._vendor.t2i_worker.client import WorkerClient, WorkerError
    from ._vendor.t2i_worker.launch import (
        ConnectionSettings,
        SettingsError,
        default_connection_file,
        read_connection_file,
    )
    from ._vendor.t2i_worker.params import GenerateParams, LoraParam, TrainParams
    from ._vendor.t2i_worker.protocol import Image, Message
    from ._vendor.t2i_worker.replies import (
        Cancelled,
        Capabilities,
        Failure,
        GenerateResult,
        ModelEntry,
        PlanResult,
        Progress,
        Queued,
        TrainResult,
        UpscaleResult,
    )
else:  # a source checkout: the project's worker package
    from worker.client import WorkerClient, WorkerError
    from worker.launch import (
        ConnectionSettings,
        SettingsError,
        default_connection_file,
        read_connection_file,
    )
    from worker.params import GenerateParams, LoraParam, TrainParams
    from worker.protocol import Image, Message
    from worker.replies import (
        Cancelled,
        Capabilities,
        Failure,
        GenerateResult,
        ModelEntry,
        PlanResult,
        Progress,
        Queued,
        TrainResult,
        UpscaleResult,
    )

__all__ = ["Cancelled", "Capabilities", "ConnectionSettings", "Failure", "GenerateParams",
           "GenerateResult", "Image", "LoraParam", "Message", "ModelEntry", "PlanResult",
           "Progress", "Queued", "SettingsError", "TrainParams", "TrainResult", "UpscaleResult",
           "WorkerClient", "WorkerError", "default_connection_file", "read_connection_file"]

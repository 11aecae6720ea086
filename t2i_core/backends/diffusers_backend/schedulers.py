"""Scheduler names a request may pick, each a diffusers scheduler class plus options.

Built from the model's own scheduler config (``from_config``), so the training schedule
(betas, prediction type, shift) always stays the model's; only the sampler changes.
"""

from __future__ import annotations

from typing import Any

from t2i_core.errors import T2IError

# name -> (class name, extra config, flow-matching?)
SCHEDULERS: dict[str, tuple[str, dict[str, Any], bool]] = {
    "euler": ("EulerDiscreteScheduler", {}, False),
    "euler_a": ("EulerAncestralDiscreteScheduler", {}, False),
    "euler_a_trailing": ("EulerAncestralDiscreteScheduler", {"timestep_spacing": "trailing"},
                         False),
    "dpm++2m": ("DPMSolverMultistepScheduler", {}, False),
    "dpm++2m_karras": ("DPMSolverMultistepScheduler", {"use_karras_sigmas": True}, False),
    "dpm++2m_sde_karras": ("DPMSolverMultistepScheduler",
                           {"use_karras_sigmas": True, "algorithm_type": "sde-dpmsolver++"},
                           False),
    "ddim": ("DDIMScheduler", {}, False),
    "unipc": ("UniPCMultistepScheduler", {}, False),
    "lms": ("LMSDiscreteScheduler", {}, False),
    "heun": ("HeunDiscreteScheduler", {}, False),
    "flow_euler": ("FlowMatchEulerDiscreteScheduler", {}, True),
    "flow_heun": ("FlowMatchHeunDiscreteScheduler", {}, True),
}


def names(flow: bool) -> list[str]:
    return [n for n, (_, _, f) in SCHEDULERS.items() if f == flow]


def make_scheduler(name: str, base_config: Any, flow: bool) -> Any:
    import diffusers

    if name not in SCHEDULERS or SCHEDULERS[name][2] != flow:
        raise T2IError("bad_scheduler", f"scheduler '{name}' is not available for this model; "
                       f"use one of {', '.join(names(flow))}")
    cls_name, extra, _ = SCHEDULERS[name]
    return getattr(diffusers, cls_name).from_config(base_config, **extra)

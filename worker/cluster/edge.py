"""The gateway's edge: a request is checked once, before it is queued, as a worker would.

The gateway loads no model (no torch), but it knows what the nodes offer (``Catalog``, from
their ``info``), so a request for a missing model, a size the model does not make, an empty
prompt, a bad adapter name, a plan without rooms, an upscale too large ... is answered
``error`` at once with the same code and message a desktop worker gives (both apply
worker/accept.py), and never queued. What only a node can see (the training folder's
content, an adapter file) ends the job with an ``error`` from that node.

The catalog also checks that models are the same everywhere: a model id must have the same
content hash on every node. A node whose copy differs is not given that model's jobs (its
status says why), so a job never runs on a different file than the one ``hello`` lists.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field

from worker import protocol as P
from worker.accept import (
    BUILTIN_UPSCALER,
    generate_request,
    parse_job,
    plan_programme,
    train_request,
    upscale_image,
)
from worker.cluster.scheduler import ANY_NODE, UPSCALE, ClusterJob


class Refused(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code, self.message = code, message


@dataclass
class Catalog:
    infos: dict[str, dict] = field(default_factory=dict)  # slot -> its latest info
    hashes: dict[str, str] = field(default_factory=dict)  # model id -> the cluster's hash
    loras: list[str] = field(default_factory=list)

    def update(self, slot: str, info: dict) -> tuple[list[str], list[str]]:
        """Record a slot's info; returns (models it may run, problems to log)."""
        self.infos[slot] = info
        usable, problems = [], []
        for m in info.get("models", []):
            ref = self.hashes.setdefault(m["id"], m.get("hash", ""))
            if ref == m.get("hash", ""):
                usable.append(m["id"])
            else:
                problems.append(f"model '{m['id']}' on {slot} ({info.get('host')}) has hash "
                                f"{str(m.get('hash'))[:12]}, the cluster's is {ref[:12]}: "
                                "not used there; install the same file on every node")
        info["usable"], info["problems"] = usable, problems
        self.loras = sorted(set(self.loras) | set(info.get("loras", [])))
        return usable, problems

    def model(self, model_id: str) -> dict | None:
        for info in self.infos.values():
            for m in info.get("models", []):
                if m["id"] == model_id and model_id in info.get("usable", []):
                    return m
        return None

    def models(self) -> list[dict]:
        seen: dict[str, dict] = {}
        for info in self.infos.values():
            for m in info.get("models", []):
                if m["id"] in info.get("usable", []):
                    seen.setdefault(m["id"], m)
        return list(seen.values())

    def upscalers(self) -> list[str]:
        """The users' diffusers upscalers some node offers (the built-in one is on all)."""
        return sorted({u["id"] for info in self.infos.values()
                       for u in info.get("upscalers", []) if u.get("id") != "builtin"})

    @property
    def ready(self) -> bool:
        return bool(self.infos)


def accept(msg: P.Message, identity: bytes, artist: str, catalog: Catalog,
           seq: int) -> ClusterJob:
    """Check a job request (worker/accept.py: the rules a desktop worker applies); raises
    ``P.ProtocolError`` or ``Refused``."""
    params, arrays, warnings = parse_job(msg)
    if catalog.ready:
        _check(msg.type, params, arrays, catalog)
    images = [(im.name, list(im.shape), bytes(im.data)) for im in msg.images]
    job = ClusterJob(uid=secrets.token_hex(8), artist=artist, identity=identity, id=msg.id,
                     kind=msg.type, model=route_of(msg.type, params), body=msg.body,
                     images=images, seq=seq)
    job.warnings.extend(warnings)
    return job


def route_of(kind: str, params: object) -> str:
    """What a node must offer to run the job: a model id; plans need no model, and every
    node has the built-in upscaler (``UPSCALE`` + a user's upscaler id otherwise)."""
    if kind == "plan":
        return ANY_NODE
    if kind == "upscale":
        model = getattr(params, "model", "")
        return ANY_NODE if model in BUILTIN_UPSCALER else UPSCALE + model
    return str(getattr(params, "model", ""))


def _check(kind: str, params: object, images: dict, catalog: Catalog) -> None:
    from t2i_core.errors import T2IError

    try:
        if kind == "plan":
            plan_programme(params)
            return
        if kind == "upscale":
            _check_upscale(params, images, catalog)
            return
        model = catalog.model(params.model)
        if model is None:
            installed = ", ".join(sorted(m["id"] for m in catalog.models())) or "none"
            raise Refused("model_not_found", f"model '{params.model}' not found; installed: "
                          f"{installed}")
        if kind == "train":
            if model.get("train_defaults") is None:
                raise T2IError("not_trainable", f"model '{model['id']}' cannot be fine-tuned "
                               "by this cluster; train the built-in model")
            train_request(params, model)
        else:
            generate_request(params, images, model, catalog.models)
    except T2IError as e:
        raise Refused(e.code, e.message) from None


def _check_upscale(p: P.UpscaleParams, images: dict, catalog: Catalog) -> None:
    upscale_image(p, images)
    if p.model not in BUILTIN_UPSCALER and p.model not in catalog.upscalers():
        offered = ", ".join(sorted(catalog.upscalers())) or "none"
        raise Refused("model_not_found", f"upscaler '{p.model}' not found on the cluster's "
                      f"nodes; installed: {offered}")

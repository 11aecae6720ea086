"""The gateway's edge: a request is checked once, before it is queued, as a worker would.

The gateway loads no model (no torch), but it knows what the nodes offer (``Catalog``, from
their ``info``), so a request for a missing model, a size the model does not make, an empty
prompt, a bad adapter name ... is answered ``error`` at once with the same code and message
a desktop worker gives, and never queued. What only a node can see (the training folder's
content, an adapter file) ends the job with an ``error`` from that node.

The catalog also checks that models are the same everywhere: a model id must have the same
content hash on every node. A node whose copy differs is not given that model's jobs (its
status says why), so a job never runs on a different file than the one ``hello`` lists.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field

from worker import protocol as P
from worker.cluster.scheduler import ClusterJob


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

    @property
    def ready(self) -> bool:
        return bool(self.infos)


def accept(msg: P.Message, identity: bytes, artist: str, catalog: Catalog,
           seq: int) -> ClusterJob:
    """Check a generate/train request; raises ``P.ProtocolError`` or ``Refused``."""
    kind = P.TrainParams if msg.type == "train" else P.GenerateParams
    params, unknown = kind.from_body(msg.body, msg.id)
    allowed = {"init_image", "mask"} if msg.type == "generate" else set()
    extra = {im.name for im in msg.images} - allowed
    if extra or len({im.name for im in msg.images}) != len(msg.images):
        raise P.ProtocolError("bad_frames", f"unexpected frames {sorted(extra)}; a generate "
                              "request takes 'init_image' and 'mask', a train request none",
                              msg.id)
    images = [(im.name, list(im.shape), bytes(im.data)) for im in msg.images]
    if catalog.ready:
        _check(msg, params, catalog)
    job = ClusterJob(uid=secrets.token_hex(8), artist=artist, identity=identity, id=msg.id,
                     kind=msg.type, model=params.model, body=msg.body, images=images, seq=seq)
    if unknown:
        job.warnings.append(f"ignored unknown field(s): {', '.join(unknown)}")
    return job


def _check(msg: P.Message, params: P.GenerateParams | P.TrainParams, catalog: Catalog) -> None:
    from t2i_core.errors import T2IError

    model = catalog.model(params.model)
    if model is None:
        installed = ", ".join(sorted(m["id"] for m in catalog.models())) or "none"
        raise Refused("model_not_found", f"model '{params.model}' not found; installed: "
                      f"{installed}")
    try:
        if isinstance(params, P.TrainParams):
            _check_train(params, model)
        else:
            _check_generate(msg, params, model)
    except T2IError as e:
        raise Refused(e.code, e.message) from None


def _check_generate(msg: P.Message, p: P.GenerateParams, model: dict) -> None:
    from t2i_core.backends.base import GenerateRequest, LoraRef

    # Settings the request left out are the model's own, as the worker fills them
    # (worker/runner.py); the catalog lists each model's complete generate_defaults.
    size = model.get("default_size") or 128
    p = p.filled({**P.GENERATE_DEFAULTS, "width": size, "height": size,
                  **(model.get("generate_defaults") or {})})
    frames = {im.name: im.to_numpy() for im in msg.images}
    mask = frames.get("mask")
    if mask is not None and mask.ndim == 3 and mask.shape[2] == 1:
        mask = mask[:, :, 0]
    GenerateRequest(
        prompt=p.prompt, negative_prompt=p.negative_prompt, seed=p.seed, width=p.width,
        height=p.height, count=p.count, steps=p.steps, guidance=p.guidance, model=p.model,
        init_image=frames.get("init_image"), strength=p.strength, mask=mask,
        loras=[LoraRef(lo.name, lo.weight) for lo in p.loras], scheduler=p.scheduler,
        vector=p.vector).validate(sizes=tuple(model.get("sizes") or ()) or None)


def _check_train(p: P.TrainParams, model: dict) -> None:
    from t2i_core.errors import T2IError
    from t2i_core.finetune.library import check_name
    from t2i_core.finetune.request import TrainRequest

    if model.get("train_defaults") is None:
        raise T2IError("not_trainable", f"model '{model['id']}' cannot be fine-tuned by this "
                       "cluster; train the built-in model")
    body = {**P.TRAIN_DEFAULTS, **(model.get("train_defaults") or {}), **p.to_body()}
    TrainRequest(**body).validate()
    check_name(p.name)

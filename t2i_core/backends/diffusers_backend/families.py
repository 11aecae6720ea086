"""What differs between the supported families at generation time.

Pipelines per mode, sampling defaults, preview colours and the ModelSpec names that adapters
carry. Latent -> RGB factors are the usual linear approximations (as in ComfyUI's latent
previews): a preview costs one tiny matrix product instead of a VAE decode.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Family:
    id: str
    pipelines: dict[str, str]  # mode -> diffusers pipeline class
    default_size: int
    steps: int
    guidance: float
    scheduler: str  # a name from schedulers.SCHEDULERS
    rgb_factors: tuple[tuple[float, float, float], ...]
    rgb_bias: tuple[float, float, float] = (0.0, 0.0, 0.0)
    flow: bool = False  # flow-matching (SD3): only flow schedulers apply
    base_version: str = ""  # kohya ss_base_model_version
    modelspec_arch: str = ""  # SAI ModelSpec architecture (without "/lora")
    lora_targets: tuple[str, ...] = field(default=("to_q", "to_k", "to_v", "to_out.0"))


SD_RGB = ((0.3512, 0.2297, 0.3227), (0.3250, 0.4974, 0.2350), (-0.2829, 0.1762, 0.2721),
          (-0.2120, -0.2616, -0.7177))
XL_RGB = ((0.3651, 0.4232, 0.4341), (-0.2533, -0.0042, 0.1068), (0.1076, 0.1111, -0.0362),
          (-0.3165, -0.2492, -0.2188))
SD3_RGB = ((-0.0922, -0.0175, 0.0749), (0.0311, 0.0633, 0.0954), (0.1994, 0.0927, 0.0458),
           (0.0856, 0.0339, 0.0902), (0.0587, 0.0272, -0.0496), (-0.0006, 0.1104, 0.0309),
           (0.0978, 0.0306, 0.0427), (-0.0042, 0.1038, 0.1358), (-0.0194, 0.0020, 0.0669),
           (-0.0488, 0.0130, -0.0268), (0.0922, 0.0988, 0.0951), (-0.0278, 0.0524, -0.0542),
           (0.0332, 0.0456, 0.0895), (-0.0069, -0.0030, -0.0810), (-0.0596, -0.0465, -0.0293),
           (-0.1448, -0.1463, -0.1189))

_SD = {"txt2img": "StableDiffusionPipeline", "img2img": "StableDiffusionImg2ImgPipeline",
       "inpaint": "StableDiffusionInpaintPipeline"}
_XL = {"txt2img": "StableDiffusionXLPipeline", "img2img": "StableDiffusionXLImg2ImgPipeline",
       "inpaint": "StableDiffusionXLInpaintPipeline"}
_SD3 = {"txt2img": "StableDiffusion3Pipeline", "img2img": "StableDiffusion3Img2ImgPipeline",
        "inpaint": "StableDiffusion3InpaintPipeline"}

FAMILIES = {
    "sd1": Family("sd1", _SD, 512, 25, 7.0, "euler", SD_RGB, base_version="sd_v1",
                  modelspec_arch="stable-diffusion-v1"),
    "sd2": Family("sd2", _SD, 768, 25, 7.0, "euler", SD_RGB, base_version="sd_v2",
                  modelspec_arch="stable-diffusion-v2-768-v"),
    "sdxl": Family("sdxl", _XL, 1024, 25, 6.0, "euler", XL_RGB, (0.1084, -0.0175, -0.0011),
                   base_version="sdxl_base_v1-0", modelspec_arch="stable-diffusion-xl-v1-base"),
    "sdxl-turbo": Family("sdxl", _XL, 512, 4, 0.0, "euler_a_trailing", XL_RGB,
                         (0.1084, -0.0175, -0.0011), base_version="sdxl_base_v1-0",
                         modelspec_arch="stable-diffusion-xl-v1-base"),
    "sd3": Family("sd3", _SD3, 1024, 28, 7.0, "flow_euler", SD3_RGB, (0.2394, 0.2135, 0.1925),
                  flow=True, base_version="sd3", modelspec_arch="stable-diffusion-3-medium"),
}


def family_for(family: str, variant: str) -> Family:
    return FAMILIES["sdxl-turbo"] if family == "sdxl" and variant == "turbo" else FAMILIES[family]

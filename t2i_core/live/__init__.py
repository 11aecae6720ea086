"""Live mode: a one-step generator trained with L = L_CLIP + λ·L_GAN (+ distillation).

- ``augment``: differentiable augmentation of latents (real and fake alike);
- ``data``: training pairs from the built-in model's retrieval memory, neighbour tables;
- ``teacher``: the built-in multi-step model as a distillation teacher;
- ``train``: the resumable training loop (``t2i live train``);
- ``weights``: export and load of ``t2i_core/weights/live.safetensors``.
"""

"""Fine-tuning on the user's own image folder: LoRA adapters for the built-in model.

dataset.py (the folder, read-only) -> job.py (the generic job: names, resume, progress) ->
a backend's Trainable (backends/builtin_trainer.py, backends/diffusers_backend/trainer.py)
-> library.py (the adapter folder);
adapters.py + lora.py apply adapters at generation time. See docs/finetune.md.
"""

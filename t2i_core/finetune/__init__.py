"""Fine-tuning on the user's own image folder: LoRA adapters for the built-in model.

dataset.py (the folder, read-only) -> job.py (the generic job: names, resume, progress) ->
builtin_trainer.py (the built-in model's Trainable) -> library.py (the adapter folder);
adapters.py + lora.py apply adapters at generation time. See docs/finetune.md.
"""

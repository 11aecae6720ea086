"""Worker states and error codes in words a designer understands."""

from __future__ import annotations

STATES = {
    "starting": ("Starting the image generator…", "#b07d00"),
    "ready": ("Ready", "#2e7d32"),
    "busy": ("Working…", "#1565c0"),  # generating or training: the worker runs one job
    "lost": ("The image generator stopped", "#c62828"),
    "restarting": ("Restarting the image generator…", "#b07d00"),
    "unavailable": ("The image generator is not available", "#c62828"),
    "closed": ("Disconnected", "#757575"),
}

_ERRORS = {
    "empty_prompt": "Type a prompt first: describe what you want to see.",
    "worker_lost": "The image generator stopped while working on this. It is being restarted; "
                   "press Generate again when the status says Ready.",
    "worker_unavailable": "The image generator could not be reached or started. {message}",
    "backend_unavailable": "The model could not be loaded. {message}",
    "model_not_found": "That model is not installed. {message}",
    "model_refused": "That model file is in the models folder but cannot be used. {message}",
    "lora_not_found": "That adapter is not installed. {message}",
    "queue_full": "Too many generations are waiting. Wait for some to finish, or cancel them.",
    "shutting_down": "The image generator is shutting down. Try again in a moment.",
    "version_mismatch": "This panel and the image generator come from different releases. "
                        "Install the same version of both. ({message})",
    "unauthorized": "The image generator refused the connection (wrong session token). "
                    "Restart the editor, or check the worker settings.",
    "internal": "Something went wrong inside the image generator. {message}",
}


# Fine-tuning (the Train tab). The worker's message names the folder, the file or the value;
# these put what to do first. The folder is on the worker's machine: say so where it matters.
_TRAIN_ERRORS = {
    "empty_folder_field": "Pick the folder of images to train on (Browse…).",
    "empty_name": "Give the adapter a name, e.g. ink-style: you pick it by this name in "
                  "Generate ▸ Adapters.",
    "too_many_samples": "Give at most 4 sample prompts, one per line.",
    "bad_folder": "Pick the folder of images to train on. {message}",
    "bad_name": "Choose another adapter name. {message}",
    "name_taken": "Choose another adapter name. {message}",
    "folder_not_found": "The image folder was not found on the image generator's computer. "
                        "{message}",
    "not_a_folder": "That is a file, not a folder. {message}",
    "folder_unreadable": "The image folder cannot be read. {message}",
    "folder_empty": "The image folder is empty. {message}",
    "no_images": "The folder holds no image that can be used for training. {message}",
    "bad_trigger": "Shorten the trigger phrase. {message}",
    "bad_sample_prompts": "Check the sample prompts: {message}",
    "disk_full": "The disk is full. {message}",
    "write_failed": "The adapter could not be saved. {message}",
    "training_diverged": "Training went wrong (the loss exploded). {message}",
    "training_unavailable": "Training is not available in this installation. {message}",
    "not_trainable": "This model cannot be fine-tuned. {message}",
    "worker_lost": "The image generator stopped during training. When the status says Ready, "
                   "press Train again with the same settings: it continues from the last "
                   "checkpoint.",
}


def train_error_text(code: str, message: str) -> str:
    """A sentence for an error of a training job (or of the Train form itself); range
    errors (bad_steps, bad_rank, bad_learning_rate, ...) point at the Advanced settings."""
    template = _TRAIN_ERRORS.get(code)
    if template is None and code.startswith("bad_"):
        template = "Check the Advanced settings: {message}"
    if template is None:
        return error_text(code, message)
    return template.format(message=message).strip()


def state_text(state: str) -> tuple[str, str]:
    """(label, colour) for a worker state."""
    return STATES.get(state, (state.capitalize(), "#757575"))


def error_text(code: str, message: str) -> str:
    """A sentence for an error event; the worker's own message is already written for
    people (backend codes like bad_size), so unknown codes show it as it is."""
    template = _ERRORS.get(code)
    if template is None:
        return message or f"The image generator reported a problem ({code})."
    return template.format(message=message).strip()

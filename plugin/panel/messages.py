"""Worker states and error codes in words a designer understands."""

from __future__ import annotations

STATES = {
    "starting": ("Starting the image generator…", "#b07d00"),
    "ready": ("Ready", "#2e7d32"),
    "busy": ("Generating…", "#1565c0"),
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
    "lora_not_found": "That adapter is not installed. {message}",
    "queue_full": "Too many generations are waiting. Wait for some to finish, or cancel them.",
    "shutting_down": "The image generator is shutting down. Try again in a moment.",
    "version_mismatch": "This panel and the image generator come from different releases. "
                        "Install the same version of both. ({message})",
    "unauthorized": "The image generator refused the connection (wrong session token). "
                    "Restart the editor, or check the worker settings.",
    "internal": "Something went wrong inside the image generator. {message}",
}


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

"""Makes the libraries packed into the plugin zip importable (``_vendor/site``: qtpy, its
dependency ``packaging``, and pyzmq for the target Python).

Appended to ``sys.path``, not prepended: a library Krita's Python already has (Debian's
python3-zmq, a newer qtpy) wins over the packed copy, and nothing shadows the host's modules.
"""

from __future__ import annotations

import sys
from pathlib import Path

SITE = Path(__file__).resolve().parent / "_vendor" / "site"


def add_vendored_site() -> bool:
    """True when the plugin runs from a packaged zip (it has a vendored site folder)."""
    if not SITE.is_dir():
        return False
    if str(SITE) not in sys.path:
        sys.path.append(str(SITE))
    return True


def missing_library_text(error: ImportError) -> str:
    """What the docker shows when a packed library does not load in this Krita's Python."""
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    return (f"T2I Studio cannot load {error.name or 'a library'} ({error}). This plugin zip "
            f"was built for another Python: Krita runs Python {version}. Rebuild it with "
            f"`t2i package krita --python-version {version}` (and --platform for another "
            "system) and import it again; see docs/krita.md.")

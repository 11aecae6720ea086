"""Runs `t2i studio --endpoint E --no-spawn FILE` in a process of its own (offscreen Qt) and
plays the user: once the window shows the worker as ready, it notes what the window shows,
closes it, and the app's event loop must end. Prints one JSON line; the test asserts on it.

A process of its own because ``QApplication.quit`` and the app's own set-up (its bridge to
the worker, its settings) are process-wide: run inside the test session they left later
windows of other tests without a "ready" state.
"""

from __future__ import annotations

import json
import sys
import time


def drive(endpoint: str, path: str, timeout_s: float = 120.0) -> dict:
    from qtpy.QtCore import QTimer
    from qtpy.QtWidgets import QApplication

    from plugin.studio.app import main

    QApplication(sys.argv[:1])  # main() adopts it; the timer below needs it to exist
    seen: dict = {}
    deadline = time.monotonic() + timeout_s

    def check() -> None:
        wins = [w for w in QApplication.topLevelWidgets()
                if type(w).__name__ == "StudioWindow" and w.isVisible()]
        if wins and wins[0].panel.bridge.state == "ready" or time.monotonic() > deadline:
            if wins:
                seen.update(state=wins[0].panel.bridge.state, title=wins[0].windowTitle(),
                            layers=[la.name for la in wins[0].doc.layers],
                            size=list(wins[0].canvas_size()))
                wins[0].close()
            QApplication.quit()
            return
        QTimer.singleShot(50, check)

    QTimer.singleShot(50, check)
    seen["exit_code"] = main(["--endpoint", endpoint, "--no-spawn", path])
    return seen


if __name__ == "__main__":
    print(json.dumps(drive(sys.argv[1], sys.argv[2])), flush=True)

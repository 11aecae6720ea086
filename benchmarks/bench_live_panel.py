"""Live mode end to end: a keystroke in the real panel -> the preview layer updated in the
standalone editor's document, with the live model vs the same pipeline on the multi-step
built-in model, side by side; and the worker's cold start with and without ``live``.

    python benchmarks/bench_live_panel.py [--rounds 2] [--phrase "a smiling sun emoji"]

1. Keystroke latency: the standalone editor (offscreen Qt, the real ``GeneratePanel`` and its
   ``LiveController``) on a worker the client spawns with its defaults (builtin + live). For
   each character of the phrase, ``QTest.keyClick`` into the prompt box starts the clock; it
   stops when the controller has put that keystroke's image into the document's preview
   layer (its ``updated`` signal, emitted right after ``set_preview_layer``). Keys are sent
   one at a time (the next after the previous landed), so each time is one whole keystroke
   -> debounce (50 ms) -> request -> worker -> result -> layer path. The baseline is the same
   controller asking the built-in model for its default 20 steps with CFG 3. Rounds alternate
   between the two so machine load hits both alike; median and p90 over all keystrokes.
2. Cold start: ``python -m worker`` start -> its hello answered (backends loaded), with
   ``--backend builtin`` alone vs the default (builtin + live?, live loading on first use).
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
ENV = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1",
       "TRANSFORMERS_OFFLINE": "1", "TRANSFORMERS_VERBOSITY": "error"}
os.environ.update(ENV)
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("QT_API", "pyside6")

from qtpy.QtCore import QEventLoop, QTimer  # noqa: E402
from qtpy.QtTest import QTest  # noqa: E402
from qtpy.QtWidgets import QApplication  # noqa: E402

from plugin.panel.live import DEBOUNCE_MS  # noqa: E402
from worker.client import WorkerClient  # noqa: E402

PIPELINES = {"live": ("live", 1, 0.0), "builtin": ("builtin", 20, 3.0)}  # model, steps, CFG


def p90(xs: list[float]) -> float:
    return sorted(xs)[min(len(xs) - 1, int(round(0.9 * (len(xs) - 1))))]


def wait_for(signal, timeout_ms: int = 60_000) -> bool:
    """Run the Qt event loop until ``signal`` fires (True) or the timeout (False)."""
    loop, fired = QEventLoop(), []

    def done(*_: object) -> None:
        fired.append(True)
        loop.quit()

    signal.connect(done)
    QTimer.singleShot(timeout_ms, loop.quit)
    if not fired:
        loop.exec()
    signal.disconnect(done)
    return bool(fired)


def type_phrase(app: QApplication, win, phrase: str, pipeline: str) -> list[float]:
    panel, live = win.panel, win.panel.live
    live.model, live.steps, live.guidance = PIPELINES[pipeline]
    panel.form.prompt.clear()
    wait_for(live.timer.timeout, 1000)  # the clear's own debounce passes (empty: no request)
    times = []
    for ch in phrase:
        landed: list[float] = []

        def stamp(_prov: object, landed: list[float] = landed) -> None:
            landed.append(time.perf_counter())

        live.updated.connect(stamp)
        t0 = time.perf_counter()
        QTest.keyClick(panel.form.prompt, ch)
        if not landed and not wait_for(live.updated):
            raise RuntimeError(f"no preview for {ch!r}: {panel.message.text()}")
        live.updated.disconnect(stamp)
        times.append(landed[0] - t0)
    assert live.last[1]["model"] == PIPELINES[pipeline][0], live.last[1]
    win.doc.remove_preview()
    return times


def keystrokes(phrase: str, rounds: int, size: int) -> dict[str, list[float]]:
    from plugin.panel import WorkerBridge
    from plugin.studio.window import StudioWindow

    app = QApplication.instance() or QApplication([])
    tmp = Path(tempfile.mkdtemp(prefix="bench-live-panel-"))
    client = WorkerClient(connection_file=tmp / "worker.json", env=ENV,
                          worker_args=["--no-history", "--threads", "1",
                                       "--progress-interval", "1"])
    try:
        win = StudioWindow(WorkerBridge(client))
        win.show()
        deadline = time.monotonic() + 300
        while not win.panel.live.available and time.monotonic() < deadline:
            app.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 50)
        if not win.panel.live.available:
            raise SystemExit("the worker does not offer `live`: are its weights installed?")
        form = win.panel.form
        form.seed.setValue(7)
        form.seed_lock.setChecked(True)
        form.size.setCurrentIndex(form.size.findData(size))
        win.panel.live_bar.toggle.setChecked(True)
        for name in PIPELINES:  # warm-up: first loads (live loads on its first request)
            type_phrase(app, win, "warm", name)
        times: dict[str, list[float]] = {name: [] for name in PIPELINES}
        for _ in range(rounds):
            for name in PIPELINES:
                times[name] += type_phrase(app, win, phrase, name)
        layers = [la.name for la in win.doc.layers]
        assert layers == ["Background"], layers  # previews replaced in place, then removed
        win.panel.live_bar.toggle.setChecked(False)
        win.close()
        return times
    finally:
        client.close()


def cold_start(args: list[str], repeats: int) -> tuple[float, list[str]]:
    """Median seconds from ``python -m worker`` to its hello answered, and its models."""
    import zmq

    from worker import protocol as P

    times, models = [], []
    for _ in range(repeats):
        tmp = Path(tempfile.mkdtemp(prefix="bench-cold-"))
        token, conn = secrets.token_urlsafe(12), tmp / "worker.json"
        env = {**os.environ, "T2I_WORKER_TOKEN": token, "T2I_STATE_DIR": str(tmp),
               "PYTHONPATH": str(REPO)}
        t0 = time.perf_counter()
        proc = subprocess.Popen([sys.executable, "-m", "worker", "--connection-file", str(conn),
                                 "--no-history", "--threads", "1", "--log-level", "WARNING",
                                 *args], cwd=REPO, env=env, stdout=subprocess.DEVNULL)
        try:
            while not conn.exists():
                time.sleep(0.005)
            time.sleep(0.02)  # written atomically? read it whole
            sock = zmq.Context.instance().socket(zmq.DEALER)
            sock.setsockopt(zmq.LINGER, 0)
            sock.connect(json.loads(conn.read_text())["endpoint"])
            sock.send_multipart(P.encode(P.Message("hello", "cold", {}, [], token)))
            while True:
                msg = P.decode(sock.recv_multipart(), requests=False)
                if msg.id == "cold" and msg.is_terminal:
                    break
            times.append(time.perf_counter() - t0)
            models = [m["id"] for m in msg.body.get("models", [])]
            sock.close()
        finally:
            proc.terminate()
            proc.wait(30)
    return statistics.median(times), models


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--phrase", default="a smiling sun emoji")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--size", type=int, default=128, help="the panel's default size")
    ap.add_argument("--cold-repeats", type=int, default=3)
    args = ap.parse_args()
    print(f"machine: {os.cpu_count()} CPUs, load average "
          f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}")

    times = keystrokes(args.phrase, args.rounds, args.size)
    print(f"keystroke -> preview layer updated, {len(args.phrase)} keys x {args.rounds} "
          f"rounds, {args.size} px, debounce included:")
    for name, (model, steps, cfg) in PIPELINES.items():
        xs = times[name]
        print(f"  {model:8s} ({steps} step{'s' if steps > 1 else ''}, CFG {cfg}): median "
              f"{statistics.median(xs) * 1000:6.1f} ms, p90 {p90(xs) * 1000:6.1f} ms")
    print(f"  (each includes the panel's {DEBOUNCE_MS} ms debounce: live after it "
          f"{statistics.median(times['live']) * 1000 - DEBOUNCE_MS:.1f} ms)")
    ratio = statistics.median(times["builtin"]) / statistics.median(times["live"])
    print(f"  ratio (builtin / live, median): {ratio:.1f}x")

    base, base_models = cold_start(["--backend", "builtin"], args.cold_repeats)
    default, default_models = cold_start([], args.cold_repeats)
    print(f"worker cold start -> hello answered (median of {args.cold_repeats}): "
          f"--backend builtin {base:.2f} s {base_models}, default {default:.2f} s "
          f"{default_models}, ratio {default / base:.2f}")
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()

"""The panel's UI thread while a generation runs: ours (signals from the client's I/O thread)
against the straightforward plugin (a blocking ``client.generate`` on the UI thread), side
by side on one worker, plus the UI-thread cost of turning a result into layers.

    QT_QPA_PLATFORM=offscreen python benchmarks/bench_panel.py [--size 512] [--count 4]

- stall: the longest gap between ticks of a 5 ms QTimer on the UI thread during one
  generation (what a user feels as a frozen window), from Generate to the layer inserted;
- result: UI-thread time from the result event to the layer (raw RGBA frame -> QImage ->
  layer) against decoding the same images from PNG (what a PNG-over-the-wire design pays).
Medians of ``--repeats``. The worker is the shipped built-in model (or ``--weights-dir``).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("QT_API", "pyside6")
REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--size", type=int, default=512)
    ap.add_argument("--count", type=int, default=4)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--weights-dir", default=None)
    args = ap.parse_args()

    from qtpy.QtCore import QElapsedTimer, QTimer
    from qtpy.QtGui import QImage
    from qtpy.QtWidgets import QApplication

    from plugin.host import Pixels
    from plugin.panel import WorkerBridge
    from plugin.qimage import png_bytes, to_qimage
    from plugin.studio.window import StudioWindow
    from worker.client import WorkerClient

    app = QApplication.instance() or QApplication([])
    state = Path(tempfile.mkdtemp(prefix="bench-panel-"))
    worker_args = ["--log-level", "WARNING", "--no-history"]
    if args.weights_dir:
        worker_args += ["--weights-dir", args.weights_dir]
    env = {"PYTHONPATH": str(REPO), "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    client = WorkerClient(worker_args=worker_args, env=env,
                          connection_file=state / "none.json")
    window = StudioWindow(WorkerBridge(client))
    window.show()
    panel = window.panel

    def spin_until(cond) -> None:
        while not cond():
            app.processEvents()
            time.sleep(0.001)

    spin_until(lambda: panel.bridge.state == "ready" and panel.form.size.count() > 0)
    form = panel.form
    form.prompt.setPlainText("a house")
    form.seed_lock.setChecked(True)
    form.steps.setValue(args.steps)
    form.count.setValue(args.count)
    form.size.setCurrentIndex(form.size.findData(args.size))
    params = form.params()

    ticks: list[float] = []
    timer = QTimer()
    timer.setInterval(5)
    timer.timeout.connect(lambda: ticks.append(time.perf_counter()))

    def measured(run) -> tuple[float, float]:
        ticks.clear()
        timer.start()
        t0 = time.perf_counter()
        run()
        total = time.perf_counter() - t0
        app.processEvents()
        timer.stop()
        edges = [t0, *ticks, time.perf_counter()]
        return max(b - a for a, b in zip(edges, edges[1:], strict=False)), total

    def ours() -> None:
        n = len(window.doc.layers)
        panel.generate()
        spin_until(lambda: len(window.doc.layers) == n + 1)

    def blocking() -> None:  # the straightforward plugin: wait for the result, then insert
        res = client.generate(params, timeout=600)
        im = res.images[0]
        window.insert_layer(Pixels(im.width, im.height, bytes(im.data)), "blocking",
                            res.body["provenance"][0], panel._sources("txt2img", params)[0]
                            or _centre(window, im.width, im.height))

    rows = {"ours": [], "blocking": []}
    for _ in range(args.repeats):
        rows["ours"].append(measured(ours))
        rows["blocking"].append(measured(blocking))

    # the UI-thread cost of one result: raw frames (ours) vs PNG decode
    res = client.generate(params, timeout=600)
    raws = [Pixels(im.width, im.height, bytes(im.data)) for im in res.images]
    pngs = [png_bytes(to_qimage(px)) for px in raws]
    raw_s, png_s = [], []
    for _ in range(max(5, args.repeats)):
        t = QElapsedTimer()
        t.start()
        for px in raws:
            to_qimage(px)
        raw_s.append(t.nsecsElapsed() / 1e9)
        t.restart()
        for data in pngs:
            QImage.fromData(data, "PNG").convertToFormat(QImage.Format.Format_RGBA8888)
        png_s.append(t.nsecsElapsed() / 1e9)
    client.close()

    med = {k: (statistics.median(s for s, _ in v), statistics.median(t for _, t in v))
           for k, v in rows.items()}
    print(f"generate {args.count} x {args.size}px, {args.steps} steps, "
          f"median of {args.repeats}")
    print(f"{'':10s} {'longest UI stall':>18s} {'Generate -> layer':>18s}")
    for k, (stall, total) in med.items():
        print(f"{k:10s} {stall * 1000:15.1f} ms {total:15.2f} s")
    print(f"stall ratio blocking/ours: {med['blocking'][0] / med['ours'][0]:.0f}x")
    r, p = statistics.median(raw_s), statistics.median(png_s)
    print(f"result -> QImage, {len(raws)} images: raw {r * 1000:.2f} ms, PNG decode "
          f"{p * 1000:.2f} ms, ratio {p / r:.1f}x")
    return 0


def _centre(window, w: int, h: int):
    from plugin.host import Rect

    cw, ch = window.canvas_size()
    return Rect((cw - w) // 2, (ch - h) // 2, w, h)


if __name__ == "__main__":
    sys.exit(main())

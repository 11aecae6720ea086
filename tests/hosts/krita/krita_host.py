"""Running Debian's ``krita`` for the host tests: a private profile (a temporary HOME) with
the plugin installed by Krita's own importer, a scripted scenario, Xvfb, hard timeouts; and
reading a saved .kra (maindoc.xml, tiled layer pixels, annotations) independently of Krita.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import zipfile
from pathlib import Path
from xml.etree import ElementTree

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1]))  # tests/host_tools.py: shared with Blender tests
from host_tools import (  # noqa: E402
    QUIET,
    REPO,
    checkout_python,
    in_ci,
    package_plugin,
    tool_or_fail,
)

__all__ = ["HERE", "IMPORTER", "QUIET", "REPO", "SYSTEM_PYTHON", "Kra", "build_zip",
           "checkout_python", "in_ci",
           "install_plugin", "krita_or_fail", "run_scenario", "tool_or_fail"]
DRIVER = HERE / "driver"
IMPORTER = Path("/usr/share/krita/pykrita/plugin_importer/plugin_importer.py")
SYSTEM_PYTHON = "/usr/bin/python3"  # Krita's Python (Debian): the importer runs on it
def krita_or_fail() -> str:
    exe = tool_or_fail("krita", "krita python3-pyqt5 python3-sip python3-zmq")
    if not IMPORTER.is_file() or not Path(SYSTEM_PYTHON).is_file():
        pytest.fail(f"krita is installed but {IMPORTER} or {SYSTEM_PYTHON} is missing")
    return exe


def build_zip(dest: Path, *extra: str) -> Path:
    """``t2i package krita`` (the real command) into ``dest``."""
    return package_plugin("krita", dest / "t2i_studio-krita.zip", *extra)


def install_plugin(home: Path, zip_path: Path, settings: dict[str, str]) -> None:
    """What Tools ▸ Scripts ▸ Import Python Plugin from File does: Krita's own importer
    unpacks the zip into ``~/.local/share/krita/pykrita``, then the plugin is enabled in
    kritarc. The test driver plugin is installed beside it; ``settings`` become the
    plugin's ``[t2i_studio]`` group (what its settings dialog writes)."""
    resources = home / ".local" / "share" / "krita"
    resources.mkdir(parents=True, exist_ok=True)
    proc = subprocess.run([SYSTEM_PYTHON, str(IMPORTER), str(zip_path), str(resources)],
                          capture_output=True, text=True, timeout=60, env=_clean_env(home))
    assert proc.returncode == 0 and "Imported plugin: T2I Studio" in proc.stdout, (
        proc.stdout + proc.stderr)
    pykrita = resources / "pykrita"
    shutil.copy(DRIVER / "t2i_test_driver.desktop", pykrita)
    shutil.copytree(DRIVER / "t2i_test_driver", pykrita / "t2i_test_driver",
                    dirs_exist_ok=True)
    config = home / ".config"
    config.mkdir(exist_ok=True)
    lines = ["[python]", "enable_t2i_studio=true", "enable_t2i_test_driver=true", "",
             "[t2i_studio]", *(f"{k}={v}" for k, v in settings.items()), ""]
    (config / "kritarc").write_text("\n".join(lines))


def _clean_env(home: Path, **extra: str) -> dict[str, str]:
    """Krita sees nothing of this checkout or the test process's Qt choices."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "QT_API", "PYTEST_QT_API", "QT_QPA_PLATFORM",
                        "VIRTUAL_ENV", "T2I_WORKER_TOKEN")}
    env.update(QUIET, HOME=str(home), XDG_CONFIG_HOME=str(home / ".config"),
               XDG_DATA_HOME=str(home / ".local" / "share"),
               XDG_CACHE_HOME=str(home / ".cache"), XDG_RUNTIME_DIR=str(home / "run"),
               T2I_STATE_DIR=str(home / "t2i-state"), **extra)
    (home / "run").mkdir(mode=0o700, parents=True, exist_ok=True)
    return env


def run_scenario(home: Path, scenario: dict, timeout: float = 420,
                 screen: str = "1600x1000x24") -> tuple[dict, str]:
    """Krita with a window under Xvfb running ``scenario`` (the driver's JSON); returns the
    driver's report and Krita's output. ``timeout`` bounds Krita inside xvfb-run and the
    whole command outside it; ``screen`` is Xvfb's screen (width x height x depth)."""
    krita = krita_or_fail()
    xvfb = tool_or_fail("xvfb-run", "xvfb xauth")
    out = Path(scenario["out_dir"])
    out.mkdir(parents=True, exist_ok=True)
    cfg = out / "scenario.json"
    cfg.write_text(json.dumps(scenario))
    env = _clean_env(home, T2I_KRITA_SCENARIO=str(cfg))
    cmd = [xvfb, "-a", "-s", f"-screen 0 {screen}", "timeout", "-k", "10",
           str(int(timeout)), krita, "--nosplash"]
    for _ in range(3):
        started = time.monotonic()
        try:
            proc = subprocess.run(cmd, env=env, capture_output=True, text=True,
                                  timeout=timeout + 40, cwd=home)
        except subprocess.TimeoutExpired as e:
            raise AssertionError(f"krita ran past {timeout} s: {e.stdout!r:.3000}") from None
        log = proc.stdout + "\n--- stderr ---\n" + proc.stderr
        # xvfb-run -a picks a display number by its lock file: two started at once can pick
        # the same one, and the loser's Krita finds no display. That is no Krita failure.
        if "could not connect to display" not in proc.stderr:
            break
    (out / "krita.log").write_text(log)
    report_path = out / "result.json"
    assert report_path.is_file(), (f"krita exited {proc.returncode} without a report "
                                   f"(scenario never ran?)\n{log[-6000:]}")
    report = json.loads(report_path.read_text())
    report["krita_wall_seconds"] = round(time.monotonic() - started, 1)  # start to exit
    assert proc.returncode == 0 or report.get("error"), (
        f"krita exited {proc.returncode} after steps {report['steps']}\n{log[-6000:]}")
    return report, log


# --- reading a .kra without Krita -------------------------------------------------------------

def lzf_decompress(data: bytes, size: int) -> bytes:
    """liblzf's format, as Krita's tile compressor writes it."""
    out = bytearray()
    i = 0
    while i < len(data):
        ctrl = data[i]
        i += 1
        if ctrl < 32:  # a literal run of ctrl + 1 bytes
            out += data[i:i + ctrl + 1]
            i += ctrl + 1
            continue
        length = ctrl >> 5
        if length == 7:
            length += data[i]
            i += 1
        ref = len(out) - ((ctrl & 0x1F) << 8) - data[i] - 1
        i += 1
        for k in range(length + 2):  # byte by byte: the copy may overlap itself
            out.append(out[ref + k])
    assert len(out) == size, f"LZF gave {len(out)} bytes, expected {size}"
    return bytes(out)


class Kra:
    """A .kra file: its maindoc.xml layers, their pixels, and the annotations."""

    NS = "{http://www.calligra.org/DTD/krita}"

    def __init__(self, path: Path) -> None:
        self.zip = zipfile.ZipFile(path)
        self.names = self.zip.namelist()
        root = ElementTree.fromstring(self.zip.read("maindoc.xml"))
        self.image = root.find(f"{self.NS}IMAGE")
        self.image_name = self.image.get("name")
        self.width, self.height = int(self.image.get("width")), int(self.image.get("height"))

    def layers(self) -> list[dict]:
        """Top-level layers, top first, with their maindoc attributes."""
        return [dict(el.attrib) for el in self.image.find(f"{self.NS}layers")]

    def annotation_types(self) -> list[str]:
        el = self.image.find(f"{self.NS}Annotations")
        return [a.get("type") for a in el] if el is not None else []

    def annotation(self, type_: str) -> bytes:
        return self.zip.read(f"{self.image_name}/annotations/{type_}")

    def layer_rgba(self, layer: dict) -> bytes:
        """The layer's pixels over the whole image as RGBA rows (8-bit RGBA layers only):
        Krita stores 64x64 tiles, each LZF-compressed with its channels planar (B, G, R,
        A planes), at offsets relative to the layer's x/y."""
        data = self.zip.read(f"{self.image_name}/layers/{layer['filename']}")
        header, _, body = data.partition(b"DATA ")
        fields = dict(line.split(" ", 1) for line in header.decode().split("\n") if line)
        assert fields == {"VERSION": "2", "TILEWIDTH": "64", "TILEHEIGHT": "64",
                          "PIXELSIZE": "4"}, fields
        count_line, _, body = body.partition(b"\n")
        default = self.zip.read(f"{self.image_name}/layers/{layer['filename']}.defaultpixel")
        canvas = bytearray(bytes([default[2], default[1], default[0], default[3]])
                           * (self.width * self.height))
        ox, oy = int(layer.get("x", 0)), int(layer.get("y", 0))
        pos = 0
        for _ in range(int(count_line)):
            end = body.index(b"\n", pos)
            tx, ty, method, size = body[pos:end].decode().split(",")
            assert method == "LZF", method
            blob = body[end + 1:end + 1 + int(size)]
            pos = end + 1 + int(size)
            n = 64 * 64 * 4
            planar = lzf_decompress(blob[1:], n) if blob[0] == 1 else blob[1:1 + n]
            b, g, r, a = (planar[k * 4096:(k + 1) * 4096] for k in range(4))
            for row in range(64):
                y = oy + int(ty) + row
                if not 0 <= y < self.height:
                    continue
                for col in range(64):
                    x = ox + int(tx) + col
                    if 0 <= x < self.width:
                        j, k = row * 64 + col, (y * self.width + x) * 4
                        canvas[k:k + 4] = bytes((r[j], g[j], b[j], a[j]))
        return bytes(canvas)

"""The panel's history of earlier generations: searchable by prompt, each reusable.

Entries are kept with the document through the host adapter (``document_data``), as JSON:
``[{"params": <generate body>, "mode": "txt2img", "time": "...", "thumb": <base64 PNG>}]``,
newest first, at most ``MAX_ENTRIES``. A damaged store is ignored (the history starts
empty), never an error: the document itself matters more than its panel history.
"""

from __future__ import annotations

import base64
import json
import time

from qtpy.QtCore import QSize, Qt, Signal
from qtpy.QtGui import QIcon, QImage, QPixmap
from qtpy.QtWidgets import QLineEdit, QListWidget, QListWidgetItem, QVBoxLayout, QWidget

from plugin.host import HostAdapter
from plugin.qimage import png_bytes

STORE_KEY = "t2i-history"
MAX_ENTRIES = 200
THUMB = 48


class HistoryList(QWidget):
    """Emits ``reuse(entry)`` when an entry is double-clicked (or activated)."""

    reuse = Signal(object)

    def __init__(self, host: HostAdapter, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.host = host
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        self.search = QLineEdit()
        self.search.setPlaceholderText("Search earlier prompts")
        self.search.setClearButtonEnabled(True)
        self.search.textChanged.connect(self._filter)
        self.list = QListWidget()
        self.list.setIconSize(QSize(THUMB, THUMB))
        self.list.setToolTip("Double-click to fill the panel with these settings")
        self.list.itemActivated.connect(lambda item: self.reuse.emit(item.data(_ENTRY)))
        lay.addWidget(self.search)
        lay.addWidget(self.list)
        self.entries: list[dict] = []
        self.reload()

    def reload(self) -> None:
        """Read the entries of the host's current document."""
        self.entries = _parse(self.host.document_data(STORE_KEY))
        self._refill()

    def add(self, params: dict, mode: str, first_image: QImage | None) -> None:
        entry = {"params": params, "mode": mode,
                 "time": time.strftime("%Y-%m-%d %H:%M:%S")}
        if first_image is not None and not first_image.isNull():
            small = first_image.scaled(THUMB, THUMB, Qt.AspectRatioMode.KeepAspectRatio,
                                       Qt.TransformationMode.SmoothTransformation)
            entry["thumb"] = base64.b64encode(png_bytes(small)).decode("ascii")
        self.entries.insert(0, entry)
        del self.entries[MAX_ENTRIES:]
        self.host.set_document_data(STORE_KEY, json.dumps(self.entries))
        self._refill()

    def visible_prompts(self) -> list[str]:
        return [self.list.item(i).data(_ENTRY)["params"].get("prompt", "")
                for i in range(self.list.count()) if not self.list.item(i).isHidden()]

    def _refill(self) -> None:
        self.list.clear()
        for entry in self.entries:
            p = entry["params"]
            item = QListWidgetItem(f"{p.get('prompt', '')}\nseed {p.get('seed')} · "
                                   f"{p.get('width')} px · {entry.get('time', '')}")
            item.setData(_ENTRY, entry)
            thumb = entry.get("thumb")
            if thumb:
                pix = QPixmap()
                if pix.loadFromData(base64.b64decode(thumb), "PNG"):
                    item.setIcon(QIcon(pix))
            self.list.addItem(item)
        self._filter(self.search.text())

    def _filter(self, text: str) -> None:
        words = text.lower().split()
        for i in range(self.list.count()):
            item = self.list.item(i)
            prompt = str(item.data(_ENTRY)["params"].get("prompt", "")).lower()
            item.setHidden(not all(w in prompt for w in words))


_ENTRY = Qt.ItemDataRole.UserRole


def _parse(text: str | None) -> list[dict]:
    if not text:
        return []
    try:
        data = json.loads(text)
    except ValueError:
        return []
    if not isinstance(data, list):
        return []
    return [e for e in data if isinstance(e, dict) and isinstance(e.get("params"), dict)]

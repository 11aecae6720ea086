"""What the panel needs from the editor it lives in: the host adapter.

One panel (plugin/panel/) serves every Qt host. Each host implements this small interface:
the standalone editor (plugin/studio/window.py) and the Krita docker
(plugin/hosts/krita/adapter.py). (Blender's add-on has no Qt panel; it turns vector results
into curves itself: plugin/hosts/blender/vectors.py.) Everything crosses
it as plain Python values (raw 8-bit RGBA bytes, straight alpha, row-major, no padding), so
an adapter needs no Qt image type of its own and the panel never touches the host's objects.

Coordinates are document pixels, origin top-left.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable


@dataclass(frozen=True)
class Rect:
    x: int
    y: int
    width: int
    height: int


@dataclass(frozen=True)
class Pixels:
    """A raw image: ``data`` holds width * height * channels bytes (4: RGBA, 1: a mask)."""

    width: int
    height: int
    data: bytes
    channels: int = 4

    def __post_init__(self) -> None:
        if len(self.data) != self.width * self.height * self.channels:
            raise ValueError(f"{self.width}x{self.height}x{self.channels} pixels need "
                             f"{self.width * self.height * self.channels} bytes, got "
                             f"{len(self.data)}")

    @classmethod
    def from_wire(cls, image: Any) -> Pixels:
        """The pixels of a frame from the worker (``worker.protocol.Image``: RGBA results,
        previews, training samples), copied out of the ZeroMQ buffer."""
        return cls(image.width, image.height, bytes(image.data), image.channels)


@runtime_checkable
class HostAdapter(Protocol):
    """The editor side of the panel. Methods are called on the UI thread only."""

    def canvas_size(self) -> tuple[int, int]:
        """(width, height) of the open document; (0, 0) when none is open."""
        ...

    def insert_layer(self, image: Pixels, name: str, provenance: dict, at: Rect) -> None:
        """Add ``image`` as a new layer directly above the active one, scaled to fill ``at``
        (no scaling when the sizes match), with its provenance stored where the host's
        format keeps it. The host makes the insertion undoable."""
        ...

    def insert_vector_layer(self, svg: str, name: str, provenance: dict, at: Rect) -> None:
        """Add the SVG drawing ``svg`` (its viewBox is the drawing's own size) as a vector
        layer directly above the active one, scaled to fill ``at`` (document pixels), with
        its provenance stored as for ``insert_layer``. The layer stays vector where the host
        has vector layers (Krita: shapes from ``addShapesFromSvg``; the studio: SVG kept in
        the .ora). ``plugin.svg.SvgError`` for text that is not SVG; nothing is added."""
        ...

    def set_preview_layer(self, image: Pixels, name: str, provenance: dict, at: Rect
                          ) -> None:
        """Live mode: show ``image`` in the document's one preview layer, scaled to fill
        ``at``. The first call creates that layer on top of the stack (the active layer
        stays active); later calls replace its pixels (and position) in place. Previews are
        transient: not on the undo stack where the host allows, ``provenance`` is kept only
        for a later pin, and no other layer is touched. If the user deleted the preview
        layer, a fresh one is made."""
        ...

    def remove_preview_layer(self) -> None:
        """Remove the preview layer if there is one (nothing else). Live mode calls it when
        it is turned off and before a pin, whose ``insert_layer`` adds the regular layer;
        the next ``set_preview_layer`` then creates a fresh preview layer."""
        ...

    def selection(self) -> tuple[Rect, Pixels] | None:
        """The selection as (bounding box, mask of that box: 255 = inside), or None."""
        ...

    def source_image(self, region: Rect) -> Pixels | None:
        """The init image for image-to-image: the active layer over ``region`` (the visible
        canvas where the host has no active paint layer), or None without a document."""
        ...

    def document_data(self, key: str) -> str | None:
        """Text the panel stored with this document (its generation history), or None."""
        ...

    def set_document_data(self, key: str, value: str) -> None:
        """Store text with the document; it is saved with the document's file."""
        ...

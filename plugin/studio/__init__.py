"""The standalone editor (``t2i studio``): a PySide6 window with a layered canvas, the
generation panel, and OpenRaster files."""

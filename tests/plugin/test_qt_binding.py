"""The Qt binding in use must not leak references to None.

PySide6 6.12.0 drops a reference to None on every call that returns nothing (fine where None
is immortal, Python >= 3.12); on Python 3.11 a running window aborts after some 20k calls
with "Fatal Python error: none_dealloc". pyproject.toml keeps it out; this catches a
binding that brings the bug back."""

from __future__ import annotations

import sys


def test_void_calls_keep_none_alive(qapp):
    from qtpy.QtWidgets import QLabel

    label = QLabel("x")
    before = sys.getrefcount(None)
    for _ in range(2000):
        qapp.processEvents()
        label.setText("y")
    assert before - sys.getrefcount(None) < 1000

"""The generation panel, shared by every Qt host (qtpy: PySide6, PyQt5, PyQt6)."""

from plugin.panel.bridge import WorkerBridge
from plugin.panel.panel import GeneratePanel
from plugin.panel.plan import PlanPanel
from plugin.panel.train import TrainPanel

__all__ = ["GeneratePanel", "PlanPanel", "TrainPanel", "WorkerBridge"]

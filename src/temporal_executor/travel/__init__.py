"""Time travel: a task's steps (`steps.py`), forks from any of them and re-runs (`forks.py`
plans them from what the store keeps; `service.py` reads and writes it)."""

from __future__ import annotations

from .forks import ForkEdits, ForkOrigin, ForkRecord, ReusedCall
from .service import TimeTravel
from .steps import Step

__all__ = ["ForkEdits", "ForkOrigin", "ForkRecord", "ReusedCall", "Step", "TimeTravel"]

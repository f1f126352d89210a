"""Widget views over the package: the threshold explorer and the reassignment desk.

The views import the core; the core never imports them. Importing this package stays cheap
(`formatting` needs no widget library), so the views load on first use.
"""

from __future__ import annotations

__all__ = ["ReassignmentDesk", "ThresholdExplorer"]


def __getattr__(name: str):
    if name == "ThresholdExplorer":
        from .explorer import ThresholdExplorer

        return ThresholdExplorer
    if name == "ReassignmentDesk":
        from .desk import ReassignmentDesk

        return ReassignmentDesk
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

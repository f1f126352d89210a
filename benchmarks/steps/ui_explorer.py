"""Threshold explorer step: building it once, then moving a threshold slider.

A slider move reads the precomputed curve and the wide selection, so it is timed beside the
floor it avoids: one `selection.decide` with the slider's thresholds. Runs on the database
the earlier steps filled; run alone (`--steps ui_explorer`), it loads the demo utility first.
"""

from __future__ import annotations

import statistics

from run import Bench, Measurement

from workbench import db
from workbench.policy import PolicyParams
from workbench.selection import decide
from workbench.ui.context import ViewContext
from workbench.ui.explorer import ThresholdExplorer

# Slider positions in centimes, visited in this order (each differs from the one before).
POSITIONS = (100, 250, 500, 1_000, 2_000, 50, 300, 750, 1_500, 5_000)
# A move should feel immediate (under 100 ms): the summary and group list are redrawn, the plots not.
TARGET_MOVE_SECONDS = 0.1


def explorer_slider(bench: Bench) -> None:
    """Time the explorer's build and its slider moves against one selection per move."""
    bench.ensure_demo_data("ui_explorer")
    context = ViewContext.from_parameters(db_url=bench.db_url)

    with bench.timer() as build:
        explorer = ThresholdExplorer(context)
    groups = len(explorer.wide.groups)
    bench.measure(Measurement("explorer built (curve, selection, plots)", build(), rows=groups))

    with db.session_scope(context.engine) as session:
        with bench.timer() as floor:
            decide(session, context.as_of, PolicyParams(debit_threshold=POSITIONS[0]),
                   list_excluded=False)

    moves = []
    for position in POSITIONS:
        with bench.timer() as move:
            explorer.debit_slider.value = position
        moves.append(move())
    bench.measure(Measurement(
        f"explorer slider move (median of {len(POSITIONS)})", statistics.median(moves),
        floor_name="one decide() per move", floor_seconds=floor(),
        target_seconds=TARGET_MOVE_SECONDS, rows=groups,
    ))


STEPS = [("explorer slider", explorer_slider)]

"""Benchmarks: each step's time beside a floor measured in the same run, and their ratio.

    python benchmarks/run.py [--subscriptions N] [--db URL] [--json FILE] [--steps a,b]

A step module in benchmarks/steps/ exposes `STEPS`, a list of (name, function). Each function
takes a `Bench` and records measurements with `bench.measure(...)`. Steps share one database, in
the order listed in `STEP_MODULES`. This is a benchmark, not a test: it prints, it does not fail
on a slow machine, and it never runs in the test suite.
"""

from __future__ import annotations

import argparse
import importlib
import json
import resource
import sys
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

# Run order; each later step may rely on what earlier ones left in the database.
STEP_MODULES = ["steps.importing", "steps.selection", "steps.posting", "steps.ui",
                "steps.ui_explorer"]


@dataclass
class Measurement:
    step: str
    seconds: float
    floor_name: str | None = None
    floor_seconds: float | None = None
    target_ratio: float | None = None
    target_seconds: float | None = None
    rows: int | None = None

    @property
    def ratio(self) -> float | None:
        if self.floor_seconds:
            return self.seconds / self.floor_seconds
        return None


@dataclass
class Bench:
    db_url: str
    subscriptions: int
    work_dir: Path
    results: list[Measurement] = field(default_factory=list)
    state: dict = field(default_factory=dict)  # what one step leaves for the next

    @contextmanager
    def timer(self):
        """Time a block: `with bench.timer() as t: ...` then `t()` returns the seconds."""
        start = time.perf_counter()
        elapsed = [None]
        yield lambda: elapsed[0]
        elapsed[0] = time.perf_counter() - start

    def ensure_demo_data(self, step: str) -> None:
        """Load the demo utility unless an earlier step left an open-items snapshot."""
        from workbench import db, eligibility
        from workbench.demo import load_demo

        db.upgrade(self.db_url)
        engine = db.get_engine(self.db_url)
        with db.session_scope(engine) as session:
            if eligibility.latest_snapshot_id(session) is not None:
                return
        print(f"{step}: no snapshot yet, loading the demo utility ({self.subscriptions:,} "
              "subscriptions)", flush=True)
        load_demo(engine, self.work_dir / "demo", subscriptions=self.subscriptions)

    def measure(self, measurement: Measurement) -> None:
        self.results.append(measurement)
        print(_format(measurement), flush=True)


def _format(m: Measurement) -> str:
    parts = [f"{m.step:<40} {m.seconds:9.3f} s"]
    if m.floor_seconds is not None:
        parts.append(f"floor {m.floor_name}: {m.floor_seconds:9.3f} s  ratio {m.ratio:5.2f}")
        if m.target_ratio is not None:
            parts.append(f"(target <= {m.target_ratio:g})")
    elif m.target_seconds is not None:
        parts.append(f"(target < {m.target_seconds:g} s)")
    if m.rows is not None:
        parts.append(f"rows {m.rows:,}")
    return "  ".join(parts)


def peak_memory_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subscriptions", type=int, default=1_000_000)
    parser.add_argument("--db", help="database URL (default: a new SQLite file in a temp folder)")
    parser.add_argument("--json", type=Path, help="also write the measurements to this file")
    parser.add_argument("--steps", help="comma-separated step modules to run (default: all)")
    args = parser.parse_args()

    work_dir = Path(tempfile.mkdtemp(prefix="wb-bench-"))
    db_url = args.db or f"sqlite:///{work_dir / 'bench.sqlite'}"
    bench = Bench(db_url=db_url, subscriptions=args.subscriptions, work_dir=work_dir)
    wanted = set(args.steps.split(",")) if args.steps else None
    print(f"benchmark: {args.subscriptions:,} subscriptions, database {db_url.split('@')[-1]}")

    for module_name in STEP_MODULES:
        short = module_name.split(".")[-1]
        if wanted and short not in wanted:
            continue
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as error:
            if error.name != module_name:
                raise
            continue
        for name, function in module.STEPS:
            function(bench)

    print(f"peak memory: {peak_memory_mb():,.0f} MB (target < 2048 MB)")
    if args.json:
        payload = {
            "subscriptions": args.subscriptions,
            "peak_memory_mb": round(peak_memory_mb(), 1),
            "steps": [
                {**m.__dict__, "ratio": m.ratio} for m in bench.results
            ],
        }
        args.json.write_text(json.dumps(payload, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())

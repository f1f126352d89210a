"""Time and memory of `workbench demo`: writing the files, then importing them.

    python benchmarks/demo_generation.py [--subscriptions N] [--seed S] [--db URL] [--no-import]

Prints the seconds of each phase and the process's peak resident memory after it (Linux
`ru_maxrss`, so the import figure includes the generation's peak when it was higher).
This is a benchmark, not a test: it prints and never fails on a slow machine.
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from pathlib import Path

from workbench import db, demo


def peak_memory_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subscriptions", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=demo.DEFAULT_SEED)
    parser.add_argument("--db", help="database URL (default: a new SQLite file in a temp folder)")
    parser.add_argument("--no-import", action="store_true", help="only write the files")
    args = parser.parse_args()

    work_dir = Path(tempfile.mkdtemp(prefix="wb-demo-bench-"))
    start = time.perf_counter()
    files = demo.write_demo_files(work_dir / "demo", subscriptions=args.subscriptions,
                                  seed=args.seed)
    seconds = time.perf_counter() - start
    sizes = {path.name: path.stat().st_size / 2**20
             for path in (files.subscriptions_path, files.open_items_path)}
    print(f"generate {args.subscriptions:,} subscriptions: {seconds:8.1f} s, "
          f"{files.summary.open_items:,} open items, files "
          + ", ".join(f"{name} {size:,.0f} MB" for name, size in sizes.items())
          + f", peak memory {peak_memory_mb():,.0f} MB", flush=True)
    if args.no_import:
        return 0

    from workbench.importing import import_open_items, import_subscriptions

    url = args.db or f"sqlite:///{work_dir / 'bench.sqlite'}"
    db.upgrade(url)
    engine = db.get_engine(url)
    start = time.perf_counter()
    import_subscriptions(engine, files.subscriptions_path, actor="benchmark")
    middle = time.perf_counter()
    import_open_items(engine, files.open_items_path, as_of=files.as_of, actor="benchmark")
    end = time.perf_counter()
    print(f"import subscriptions: {middle - start:8.1f} s; open items: {end - middle:8.1f} s; "
          f"peak memory {peak_memory_mb():,.0f} MB ({url.split('@')[-1]})")
    return 0


if __name__ == "__main__":
    sys.exit(main())

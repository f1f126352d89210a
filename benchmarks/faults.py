"""Long mode of the reliability tests: every kill point, timed kills and many fuzz cases.

    python benchmarks/faults.py [--db-url URL] [--timed N] [--fuzz N] [--skip-fuzz]

It builds the demo ledger of the crash tests (2,000 subscriptions, an approved run) on a fresh
SQLite file, or in the PostgreSQL database `--db-url` names (which must be empty and migrated, and
which is used as the template of the clones). Then it kills `run post`, `run export` and
`import open-items` before every step they take (database statement, COMMIT or file rename) and
just after their COMMIT. It also kills each command N times after random delays spread over its
measured duration, and checks the same all-or-nothing rules as `tests/test_reliability_crash.py`
after each kill. Finally it runs the fuzz tests with `--fuzz` cases each. Not run in CI.
"""

from __future__ import annotations

import argparse
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from faults import (  # noqa: E402
    audit_rows,
    clone_database,
    drop_database,
    reconcile_difference,
    run_counts,
    run_wrapped,
    step_count,
    subprocess_env,
    table_count,
    wrapper_command,
)
from test_reliability_crash import (  # noqa: E402
    AS_OF,
    POLICY,
    build_demo,
    check_post_all_or_nothing,
    workbench,
)

from workbench import db  # noqa: E402


def kill_after_delay(url: str, args: list[str], delay: float, cwd: Path) -> int:
    """Start the command, SIGKILL it after `delay` seconds, and return its exit code."""
    process = subprocess.Popen(wrapper_command(url, args), cwd=cwd, env=subprocess_env(),
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(delay)
    process.kill()
    return process.wait()


def kill_plans(steps: int, timed: int, duration: float, rng: random.Random) -> list[dict]:
    plans = [{"kill_at": step} for step in range(1, steps + 1)]
    plans.append({"kill_after_commit": True})
    plans += [{"delay": rng.uniform(0.0, duration * 1.1)} for _ in range(timed)]
    return plans


def killed(url: str, args: list[str], plan: dict, cwd: Path) -> int:
    if "delay" in plan:
        return kill_after_delay(url, args, plan["delay"], cwd)
    return run_wrapped(url, args, cwd=cwd, **plan).returncode


def measure(url: str, args: list[str], cwd: Path) -> tuple[int, float]:
    started = time.perf_counter()
    process = run_wrapped(url, args, cwd=cwd)
    assert process.returncode == 0, process.stderr
    return step_count(process), time.perf_counter() - started


def check_post(base: str, run_id: int, work: Path, timed: int, rng, clones: list[str]) -> int:
    reference = clone_database(base, work)
    clones.append(reference)
    engine = db.get_engine(reference)
    before, audit_before = run_counts(engine, run_id), audit_rows(engine)
    db.dispose_all()
    args = ["run", "post", str(run_id)]
    steps, duration = measure(reference, args, work)
    full = run_counts(db.get_engine(reference), run_id)
    db.dispose_all()

    plans = kill_plans(steps, timed, duration, rng)
    for plan in plans:
        url = clone_database(base, work)
        clones.append(url)
        killed(url, args, plan, work)
        posted = check_post_all_or_nothing(url, run_id, before, full, audit_before)
        code, out, err = workbench(url, *args)
        assert code == (3 if posted else 0), (plan, err)
        assert run_counts(db.get_engine(url), run_id) == full, plan
        db.dispose_all()
        assert reconcile_difference(url) == "0.00", plan
    return len(plans)


def check_export(base: str, run_id: int, work: Path, timed: int, rng, clones: list[str]) -> int:
    posted = clone_database(base, work)
    clones.append(posted)
    assert workbench(posted, "run", "post", str(run_id))[0] == 0
    reference_dir = work / "reference"
    reference = clone_database(posted, work)
    clones.append(reference)
    steps, duration = measure(reference, ["run", "export", str(run_id), "--out",
                                          str(reference_dir)], work)
    expected = {path.name: path.read_bytes() for path in reference_dir.iterdir()}

    plans = kill_plans(steps, timed, duration, rng)
    for index, plan in enumerate(plans):
        url = clone_database(posted, work)
        clones.append(url)
        out_dir = work / f"export-{index}"
        args = ["run", "export", str(run_id), "--out", str(out_dir)]
        killed(url, args, plan, work)
        for path in out_dir.glob("*-*.*"):
            if not path.name.startswith("."):
                assert path.read_bytes() == expected[path.name], (plan, path.name)
        assert run_counts(db.get_engine(url), run_id).state in ("posted", "exported")
        db.dispose_all()
        code, out, err = workbench(url, *args)
        assert code == 0, (plan, err)
        written = {path.name: path.read_bytes() for path in out_dir.iterdir()
                   if not path.name.startswith(".")}
        assert written == expected, plan
        assert reconcile_difference(url) == "0.00", plan
    return len(plans)


def check_import(base: str, items_file: Path, work: Path, timed: int, rng,
                 clones: list[str]) -> int:
    rows = sum(1 for _ in items_file.open(encoding="utf-8")) - 1
    args = ["import", "open-items", str(items_file), "--as-of", AS_OF]
    reference = clone_database(base, work)
    clones.append(reference)
    steps, duration = measure(reference, args, work)

    plans = kill_plans(steps, timed, duration, rng)
    for plan in plans:
        url = clone_database(base, work)
        clones.append(url)
        killed(url, args, plan, work)
        engine = db.get_engine(url)
        state = (table_count(engine, "import_batches", "kind = 'open_items'"),
                 table_count(engine, "open_items"))
        db.dispose_all()
        assert state in ((0, 0), (1, rows)), (plan, state)
        assert workbench(url, *args)[0] == 0, plan
        engine = db.get_engine(url)
        assert table_count(engine, "import_batches", "kind = 'open_items'") == 1, plan
        assert table_count(engine, "open_items") == rows, plan
        db.dispose_all()
    return len(plans)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db-url", help="empty, migrated PostgreSQL database (default: SQLite)")
    parser.add_argument("--timed", type=int, default=10,
                        help="kills after random delays per command (default: 10)")
    parser.add_argument("--fuzz", type=int, default=1000,
                        help="hypothesis cases per fuzz test (default: 1000)")
    parser.add_argument("--skip-fuzz", action="store_true")
    parser.add_argument("--seed", type=int, default=1)
    options = parser.parse_args()
    rng = random.Random(options.seed)
    work = Path(tempfile.mkdtemp(prefix="wb-faults-"))
    clones: list[str] = []

    base = options.db_url or f"sqlite:///{work / 'base.sqlite'}"
    if not options.db_url:
        db.upgrade(base)
    files_url = f"sqlite:///{work / 'files.sqlite'}"
    build_demo(files_url, work / "demo")
    assert workbench(base, "import", "subscriptions",
                     str(work / "demo" / "subscriptions.csv"))[0] == 0
    import_base = clone_database(base, work)
    clones.append(import_base)
    assert workbench(base, "import", "open-items", str(work / "demo" / "open_items.csv"),
                     "--as-of", AS_OF)[0] == 0
    code, out, err = workbench(base, "run", "prepare", "--as-of", AS_OF, *POLICY, "--by", "anna")
    assert code == 0, err
    run_id = int(out.strip().splitlines()[-1])
    assert workbench(base, "run", "approve", str(run_id), "--by", "ben")[0] == 0
    db.dispose_all()

    try:
        started = time.perf_counter()
        counts = {
            "run post": check_post(base, run_id, work, options.timed, rng, clones),
            "run export": check_export(base, run_id, work, options.timed, rng, clones),
            "import open-items": check_import(import_base, work / "demo" / "open_items.csv",
                                              work, options.timed, rng, clones),
        }
        for command, count in counts.items():
            print(f"{command}: {count} kill points, all consistent")
        print(f"kill points: {sum(counts.values())} in {time.perf_counter() - started:.1f} s")
    finally:
        db.dispose_all()
        for url in clones:
            drop_database(url)

    if options.skip_fuzz:
        return 0
    env = dict(os.environ, WORKBENCH_FUZZ_EXAMPLES=str(options.fuzz))
    return subprocess.call([sys.executable, "-m", "pytest", "-q", "-p", "no:logging",
                            str(REPO / "tests" / "test_reliability_hostile.py"), "-k", "fuzz"],
                           cwd=REPO, env=env)


if __name__ == "__main__":
    sys.exit(main())

"""`make bench` / `python -m bench`: run the measurements, print the table, write bench/results.json.

    python -m bench                       # everything (several minutes)
    python -m bench --quick               # small sizes, well under two minutes
    python -m bench --only timer_pass,storage
    python -m bench --pg-url postgresql+psycopg://postgres@127.0.0.1:5432/test   (or --pg-url none)
    python -m bench --profile             # add cProfile top functions to results.json

Only a full run of everything writes bench/results.json; --quick and --only write under bench/tmp/.

These are benchmarks, not tests: nothing here fails on speed. The exit code is 1 only when a
measurement could not run at all.
"""
from __future__ import annotations

import argparse
import logging
import sys
import time
import traceback
from pathlib import Path

from . import (api_step, cycles, lateness, migration, raw, report, samarbeid, sandbox, storage, task_list,
               timer_fire, timer_pass)
from .env import Env, Run, log, pg_url_from

# name -> module; a module has run(Run) -> [Figure] and expected(Run) -> the figure keys it reports
MEASUREMENTS = {
    "api_step": api_step,
    "timer_pass": timer_pass,
    "timer_fire": timer_fire,
    "lateness": lateness,
    "task_list": task_list,
    "cycles": cycles,
    "samarbeid": samarbeid,
    "storage": storage,
    "sandbox": sandbox,
    "migration": migration,
}
HERE = Path(__file__).resolve().parent
# Only a full run of everything replaces bench/results.json (what the README quotes); quick and
# partial runs write into the git-ignored bench/tmp/ unless --output says otherwise.
FULL_OUTPUT = HERE / "results.json"


def parse(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes: a smoke run in well under two minutes")
    parser.add_argument("--only", default="", help=f"comma-separated: {', '.join(MEASUREMENTS)}")
    parser.add_argument("--pg-url", default=None,
                        help="PostgreSQL for the PostgreSQL figures (default: $ORCHESTRATOR_BENCH_PG_URL, "
                             "$ORCHESTRATOR_TEST_DATABASE_URL, or postgres@127.0.0.1:5432/test when it answers; "
                             "'none' skips them)")
    parser.add_argument("--profile", action="store_true", help="add cProfile top functions per figure")
    parser.add_argument("--output", type=Path, default=None,
                        help="where to write the JSON (default: bench/results.json for a full run of everything, "
                             "bench/tmp/results-quick.json or results-partial.json otherwise)")
    parser.add_argument("--markdown", action="store_true", help="also print the table as Markdown (for README)")
    args = parser.parse_args(argv)
    names = [n.strip() for n in args.only.split(",") if n.strip()] or list(MEASUREMENTS)
    unknown = [n for n in names if n not in MEASUREMENTS]
    if unknown:
        parser.error(f"unknown measurement(s): {', '.join(unknown)} (known: {', '.join(MEASUREMENTS)})")
    args.names = names
    if args.output is None:
        if args.quick:
            args.output = HERE / "tmp" / "results-quick.json"
        elif names != list(MEASUREMENTS):
            args.output = HERE / "tmp" / "results-partial.json"
        else:
            args.output = FULL_OUTPUT
    return args


def main(argv=None) -> int:
    args = parse(argv)
    logging.basicConfig(level=logging.WARNING)
    pg_url = pg_url_from(args.pg_url)
    started = time.perf_counter()
    log(f"{'quick' if args.quick else 'full'} run: {', '.join(args.names)}; "
        f"PostgreSQL: {pg_url or 'not used'}")
    pg_version = _pg_version(pg_url)
    if pg_url and pg_version is None:
        log("PostgreSQL does not answer; its figures are skipped")
        pg_url = None

    with Env("calibration") as env:
        calibration = raw.calibrate(env, n=50 if args.quick else 300)
    log(f"calibration: one raw SpiffWorkflow step = {calibration['raw_step_median_ms']:.3f} ms")
    run = Run(quick=args.quick, pg_url=pg_url, profile=args.profile,
              calibration_ms=calibration["raw_step_median_ms"])

    figures, failed = [], []
    for name in args.names:
        module = MEASUREMENTS[name]
        log(f"--- {name}")
        t0 = time.perf_counter()
        try:
            figures += module.run(run)
        except Exception as error:  # report the others; say what broke
            traceback.print_exc()
            failed.append(name)
            reason = " ".join(f"failed: {type(error).__name__}: {error}".split())[:300]
            figures += [report.Figure(key, key, None, "", None, notes=reason, skipped=reason)
                        for key in module.expected(run)]
        log(f"--- {name} took {time.perf_counter() - t0:.1f} s")

    for f in figures:  # absolute figures also in units of this run's raw SpiffWorkflow step
        if f.unit in ("ms", "s", "/s") and f.value and "per_calibration" not in f.raw:
            ms = {"ms": f.value, "s": f.value * 1000, "/s": 1000 / f.value}[f.unit]
            f.raw["per_calibration"] = run.per_calibration(ms)

    machine = report.machine_info(pg_version)
    run_info = {"quick": args.quick, "only": args.names, "profile": args.profile,
                "expected": [key for name in args.names for key in MEASUREMENTS[name].expected(run)],
                "seconds": round(time.perf_counter() - started, 1), "calibration": calibration,
                "failed": failed, "postgresql_url_used": bool(pg_url)}
    report.write(args.output, figures, machine, run_info)
    print(report.table(figures))
    if args.markdown:
        print()
        print(report.markdown(figures))
    log(f"wrote {args.output} ({run_info['seconds']} s)")
    return 1 if failed else 0


def _pg_version(pg_url: str | None) -> str | None:
    if not pg_url:
        return None
    from sqlalchemy import create_engine, text

    try:
        engine = create_engine(pg_url, connect_args={"connect_timeout": 3})
        with engine.connect() as conn:
            version = conn.execute(text("show server_version")).scalar()
        engine.dispose()
        return version
    except Exception:
        return None


if __name__ == "__main__":
    sys.exit(main())

"""veo-bot's figures against their targets, in one table: `python -m bench.run [--quick]`.

A report, not a test: it always exits 0 when it could measure, whatever the figures say.
See bench/README.md for what each figure means and what is simulated or compressed.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import sys
import time
from collections.abc import Callable
from typing import Any

from bench import against, latency, spread
from bench.common import run_child
from bench.pg import fresh_database
from bench.rows import download_rows, latency_rows, load_rows
from bench.schedule_rows import schedules_notes, schedules_rows
from bench.spread_rows import spread_notes, spread_rows
from bench.table import Row, table

PHASES = ("latency", "schedules", "load", "download", "spread")
# Run by default only with --postgres (it needs the throwaway PostgreSQL server).
POSTGRES_ONLY = ("spread",)


class Postgres:
    """One throwaway PostgreSQL server for the whole run (tests/postgres.py), started when
    a part first asks for a database and stopped at the end; each part gets a fresh one."""

    def __init__(self) -> None:
        self._server: Any = None

    def database(self, name: str) -> str:
        if self._server is None:
            from tests.postgres import PostgresServer  # only a PostgreSQL run needs it

            server = PostgresServer()
            server.start()
            self._server = server
        url: str = asyncio.run(fresh_database(self._server.dsn(), name))
        return url

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None


def say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


# -- running -------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__)
    parser.add_argument(
        "--quick",
        action="store_true",
        help="a smoke run (smaller, compressed; ~5 min, the schedules part's learned waves "
        "are kept full)",
    )
    parser.add_argument(
        "--json",
        nargs="?",
        const="-",
        metavar="FILE",
        help="write every number as JSON to FILE (no FILE: to stdout, instead of the table)",
    )
    parser.add_argument(
        "--against",
        metavar="REV",
        help="also run REV's own load part (from a temporary git worktree) and show its "
        "figures beside this code's (new / old)",
    )
    parser.add_argument(
        "--postgres",
        action="store_true",
        help="start a throwaway PostgreSQL server: run the load part on it too (beside "
        "SQLite), and the spread part (three bots on one database)",
    )
    parser.add_argument(
        "--keep-logs",
        action="store_true",
        help="keep the spread part's bot logs (the folder is named in the notes)",
    )
    parser.add_argument(
        "--phases",
        help=f"comma-separated subset of {', '.join(PHASES)} (default: all; spread only "
        "with --postgres)",
    )
    args = parser.parse_args(argv)
    default = [x for x in PHASES if args.postgres or x not in POSTGRES_ONLY]
    phases = [x.strip() for x in (args.phases or ",".join(default)).split(",") if x.strip()]
    unknown = set(phases) - set(PHASES)
    if unknown:
        parser.error(f"unknown phase(s): {', '.join(sorted(unknown))}")

    started = time.monotonic()
    load_before = os.getloadavg()
    report: dict[str, Any] = {
        "mode": "quick" if args.quick else "full",
        "command": "python -m bench.run"
        + (" --quick" if args.quick else "")
        + ("" if phases == default else f" --phases {','.join(phases)}")
        + (" --postgres" if args.postgres else "")
        + (f" --against {args.against}" if args.against else ""),
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "loadavg_before": load_before,
    }
    rows: list[Row] = []
    failed = False
    jobs = 300 if args.quick else 1000
    load_args = ["--jobs", str(jobs)] + (
        ["--initial-wait", "2", "--render-min", "8", "--render-max", "14"]
        if args.quick
        else ["--initial-wait", "5", "--render-min", "30", "--render-max", "60"]
    )
    if args.against and "load" not in phases:
        parser.error("--against compares the load part: include it in --phases")

    postgres = Postgres()

    def load_both() -> dict[str, Any]:
        new = run_child("bench.load", load_args, timeout=600)
        if args.postgres:
            say("[load] the same on PostgreSQL (a throwaway server, a fresh database)")
            try:
                url = postgres.database("veo_bench_load")
                new["postgres"] = run_child(
                    "bench.load", [*load_args, "--database-url", url], timeout=600
                )
            except Exception as exc:  # SQLite's figures still stand
                new["postgres"] = {"error": f"{type(exc).__name__}: {exc}"}
                say(f"[load] PostgreSQL failed: {type(exc).__name__}: {exc}")
        if args.against:
            say(f"[load] the same at {args.against}, from a temporary worktree")
            new["old"] = against.run_load(args.against, load_args, timeout=600)
        return new

    spread_size = spread.sizes(args.quick)

    Measure = Callable[[], dict[str, Any]]
    ToRows = Callable[[dict[str, Any], list[Row]], None]
    steps: dict[str, tuple[str, Measure, ToRows]] = {
        "latency": (
            "acknowledgements, then added delay and polls in real seconds "
            + ("(~25 s)" if args.quick else "(~2.3 min: the vendors' real initial waits)"),
            lambda: asyncio.run(latency.run(args.quick)),
            latency_rows,
        ),
        "schedules": (
            "two bots, new schedule vs fixed, in real seconds (~"
            + ("3 min: the N(60 s, 10 s) waves are kept full" if args.quick else "3.5 min")
            + ")",
            lambda: run_child("bench.schedules", ["--quick"] if args.quick else [], timeout=600),
            schedules_rows,
        ),
        "load": (
            f"{jobs:,} jobs in flight, in a fresh process (~{25 if args.quick else 90} s"
            + (", twice: this code, then the old" if args.against else "")
            + ")",
            load_both,
            load_rows,
        ),
        "download": (
            "a 200 MB video download, in a fresh process (~10 s)",
            lambda: run_child("bench.download", ["--mb", "200"], timeout=300),
            download_rows,
        ),
        "spread": (
            f"{spread_size['jobs']:,} jobs across three bot processes on one PostgreSQL "
            f"(~{2 if args.quick else 4.5} min)",
            lambda: asyncio.run(
                spread.run(postgres.database("veo_bench_spread"), args.quick, keep=args.keep_logs)
            ),
            spread_rows,
        ),
    }
    with contextlib.ExitStack() as cleanup:
        cleanup.callback(postgres.stop)
        for name in PHASES:
            if name not in phases:
                continue
            what, measure, to_rows = steps[name]
            say(f"[{name}] {what}")
            try:
                report[name] = measure()
            except Exception as exc:  # a phase that cannot measure is reported, not hidden
                failed = True
                report[name] = {"error": f"{type(exc).__name__}: {exc}"}
                rows.append(Row(f"{name}: could not measure", "ERROR", "", False))
                say(f"[{name}] failed: {type(exc).__name__}: {exc}")
                continue
            to_rows(report[name], rows)
    failed = failed or "error" in (report.get("load") or {}).get("postgres", {})
    report["loadavg_after"] = os.getloadavg()
    report["wall_seconds"] = time.monotonic() - started
    report["rows"] = [
        {"figure": r.figure, "measured": r.value, "target": r.target, "result": r.verdict}
        for r in rows
    ]

    # Missed targets are the report's content; only a phase that could not run fails it.
    status = 1 if failed else 0
    if args.json == "-":
        print(json.dumps(report, indent=2))
        return status
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(report, fh, indent=2)
    print(header(report))
    print()
    print(table(rows))
    print()
    print(notes(report))
    return status


def header(report: dict[str, Any]) -> str:
    before = ", ".join(f"{x:.2f}" for x in report["loadavg_before"])
    after = ", ".join(f"{x:.2f}" for x in report["loadavg_after"])
    return (
        f"veo-bot benchmark ({report['mode']}): `{report['command']}`, "
        f"{report['wall_seconds']:.0f} s wall\n"
        f"Python {report['python']}, {report['cpus']} CPUs; load average before {before}, "
        f"after {after}"
    )


def notes(report: dict[str, Any]) -> str:
    lines = ["Notes:"]
    lat = report.get("latency")
    if lat is not None and "error" not in lat:
        if lat["initial_wait_scale"] != 1.0:
            lines.append(
                f"- --quick: every vendor's initial wait is scaled by "
                f"{lat['initial_wait_scale']:g} (apixo's reference loop too); polls stay 5 s."
            )
        else:
            lines.append(
                "- Added delay: real seconds, the vendors' real schedules (initial wait, 5-s polls);"
                " renders end 1-31 s after the initial wait. Excludes the download and upload."
            )
    load = report.get("load")
    if load is not None and "error" not in load:
        lines.append(
            f"- Load run compressed: initial waits {load['initial_wait']:g} s, renders "
            f"{load['render_min']:g}-{load['render_max']:g} s (real: 30-90 s and ~1-3 min); "
            "polls every 5 s as in production; vendor rate/task caps raised to let all in."
        )
        if load["jobs"] != 1000:
            lines.append(
                f"- The load run had {load['jobs']:,} jobs, not 1,000: its targets are for 1,000."
            )
        sim_cpu = load.get("sim_cpu_seconds")
        if sim_cpu is not None:
            lines.append(
                f"- The simulators (own process) used {sim_cpu / load['wall_seconds']:.2f} cores "
                "during the load run."
            )
        pg = load.get("postgres")
        if pg is not None and "error" not in pg:
            lines.append(
                "- Load on PostgreSQL: the same run against a throwaway local server "
                "(tests/postgres.py: fsync, synchronous_commit and full_page_writes off), a "
                "fresh database; the server's CPU is read from /proc "
                f"({pg.get('server_cpu_how')}): {pg['server_cpu_ms_per_job']:.1f} ms per job. "
                "Rows changed from pg_stat_database (every process's), read 1.5 s after "
                "the bot closed; on SQLite, total_changes() while it runs."
            )
        for which, run in (("SQLite", load), ("PostgreSQL", pg)):
            logs = (run or {}).get("logs")
            if logs and (logs["levels"] or logs["deadlocks"] or logs["leases_lost"]):
                levels = ", ".join(f"{k} {v}" for k, v in sorted(logs["levels"].items()))
                lines.append(
                    f"- Load on {which}: the bot logged {levels or 'no warnings'}; "
                    f"{logs['deadlocks']} batches rolled back by a deadlock, "
                    f"{logs['leases_lost']} leases lost."
                )
                for kind in logs["kinds"].values():
                    lines.append(f"    {kind['count']} x, e.g. {kind['example'][:400]}")
    sched = report.get("schedules")
    if sched is not None and "error" not in sched:
        lines += schedules_notes(sched)
    sp = report.get("spread")
    if sp is not None and "error" not in sp:
        lines += spread_notes(sp)
    old = (load or {}).get("old")
    if old is not None:
        dropped = ", ".join(old["dropped_flags"]) or "none"
        lines.append(
            f"- new / old: this checkout against {old['revision']} ({old['commit'][:10]}), whose "
            f"own bench.load ran from a temporary git worktree (flags it lacks, dropped: "
            f"{dropped}). On this shared 2-core machine CPU and RSS move a few % from run to "
            "run: a difference within ±5 % is noise."
        )
    lines.append(
        "- A report, not a test: missed targets do not change the exit status (0); a phase "
        "that could not run makes it 1."
    )
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())

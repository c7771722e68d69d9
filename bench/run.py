"""veo-bot's figures against their targets, in one table: `python -m bench.run [--quick]`.

A report, not a test: it always exits 0 when it could measure, whatever the figures say.
See bench/README.md for what each figure means and what is simulated or compressed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import sys
import time
from dataclasses import dataclass
from typing import Any

from bench import latency
from bench.common import percentile, run_child

MB = 1024 * 1024
PHASES = ("latency", "load", "download")


@dataclass
class Row:
    figure: str
    value: str
    target: str = ""
    ok: bool | None = None  # None: reported for information or comparison

    @property
    def verdict(self) -> str:
        return "" if self.ok is None else ("PASS" if self.ok else "MISS")


def say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def p(values: list[float], q: float) -> float:
    return percentile(values, q)


def secs(a: float, b: float) -> str:
    return f"{a:.2f} / {b:.2f} s"


# -- the rows ------------------------------------------------------------------------------


def latency_rows(lat: dict[str, Any], rows: list[Row]) -> None:
    acks = lat["ack_ms"]
    rows.append(
        Row(
            f"Interaction ack p50 / p99 (n={len(acks)})",
            f"{p(acks, 50):.1f} / {p(acks, 99):.1f} ms",
            "p99 < 100 ms",
            p(acks, 99) < 100,
        )
    )
    groups = lat["groups"]
    refs = lat["reference"]
    polling = [g for g in groups.values() if not g["callbacks"]]
    every = [d for g in polling for d in g["delays"]]
    for key, g in groups.items():
        d = g["delays"]
        failed = f", {g['failed']} failed" if g["failed"] else ""
        if g["callbacks"]:
            label = f"Added delay, {key} (n={len(d)}{failed}) p50 / p95"
            rows.append(
                Row(
                    label, secs(p(d, 50), p(d, 95)), "<= 0.5 s", p(d, 95) <= 0.5 and not g["failed"]
                )
            )
        else:
            sched = f"{g['initial_wait']:g} s + {g['poll_interval']:g}-s polls"
            label = f"Added delay, {key} ({sched}, n={len(d)}{failed}) p50 / p95"
            ok = p(d, 50) <= 3 and p(d, 95) <= 6 and not g["failed"]
            rows.append(Row(label, secs(p(d, 50), p(d, 95)), "<= 3 / <= 6 s", ok))
        if key in refs:
            r = refs[key]["delays"]
            name = (
                "seed 001 sample (8-s polls, then 4-s wait)"
                if key == "apiyi"
                else f"seed 002 advice ({refs[key].get('initial_wait', 90):g} s + 5-s polls)"
            )
            rows.append(
                Row(f"  reference loop: {name}", secs(p(r, 50), p(r, 95)), "for comparison")
            )
    rows.append(
        Row(
            f"Added delay, all polling jobs (n={len(every)}) p50 / p95",
            secs(p(every, 50), p(every, 95)),
            "<= 3 / <= 6 s",
            p(every, 50) <= 3 and p(every, 95) <= 6,
        )
    )
    for key, g in groups.items():
        extra = [a - b for a, b in zip(g["polls"], g["ideal"], strict=True)]
        if not extra:
            continue
        mean_polls = sum(g["polls"]) / len(g["polls"])
        mean_ideal = sum(g["ideal"]) / len(g["ideal"])
        rows.append(
            Row(
                f"Polls per job, {key}: mean vs ideal, worst excess",
                f"{mean_polls:.2f} vs {mean_ideal:.2f}, {max(extra):+d}",
                "<= ideal + 2",
                max(extra) <= 2,
            )
        )
        if key in refs:
            r = refs[key]
            ref_extra = [a - b for a, b in zip(r["polls"], r["ideal"], strict=True)]
            rows.append(
                Row(
                    "  reference loop: mean vs its ideal, worst excess",
                    f"{sum(r['polls']) / len(r['polls']):.2f} vs "
                    f"{sum(r['ideal']) / len(r['ideal']):.2f}, {max(ref_extra):+d}",
                    "for comparison",
                )
            )


def load_rows(load: dict[str, Any], rows: list[Row]) -> None:
    n = load["jobs"]
    tag = f"{n:,} jobs"
    delivered = load["statuses"].get("delivered", 0)
    rows.append(
        Row(
            f"{tag}: delivered, peak at the vendors at once",
            f"{delivered:,} / {load['peak_in_flight']:,}",
            f"{n:,} / {n:,}",
            delivered == n and load["peak_in_flight"] == n,
        )
    )
    rows.append(
        Row(
            f"{tag}: peak RSS (VmHWM; idle after login)",
            f"{load['rss_peak_bytes'] / MB:.0f} MB ({load['rss_idle_bytes'] / MB:.0f} MB)",
            "< 250 MB",
            load["rss_peak_bytes"] < 250 * MB,
        )
    )
    steady = load.get("cores_steady")
    rows.append(
        Row(
            f"{tag}: CPU while all in flight ({(load.get('steady_seconds') or 0):.0f} s)",
            "n/a" if steady is None else f"{steady:.2f} cores",
            "< 0.5 core",
            None if steady is None else steady < 0.5,
        )
    )
    by_thread = load.get("cores_steady_by_thread") or {}
    if by_thread:
        loop = by_thread.get("MainThread", 0.0)
        sqlite = sum(v for k, v in by_thread.items() if "connection_worker" in k)
        rows.append(
            Row("  of which: event loop, SQLite (aiosqlite) thread", f"{loop:.2f}, {sqlite:.2f}")
        )
    rows.append(
        Row(
            f"{tag}: CPU per job (whole run: {load['cores_whole_run']:.2f} cores)",
            f"{load['cpu_ms_per_job']:.1f} ms",
        )
    )
    rows.append(
        Row(
            f"{tag}: SQLite write transactions (rows changed) per job",
            f"{load['writes_per_job']:.1f} ({load['rows_changed_per_job']:.1f})",
        )
    )
    rows.append(
        Row(
            f"{tag}: polls per job; gap between polls p50 / p95",
            f"{load['polls_per_job']:.2f}; {secs(load['poll_gap_p50'], load['poll_gap_p95'])}",
        )
    )
    rows.append(
        Row(
            f"{tag}: added delay p50 / p95 (compressed; approx.)",
            secs(load["delay_p50"], load["delay_p95"]),
        )
    )


def download_rows(dl: dict[str, Any], rows: list[Row]) -> None:
    size = dl["video_bytes"] / MB
    growth = dl["rss_growth_bytes"] / MB
    intact = dl["delivered_file_bytes"] == dl["video_bytes"]
    rows.append(
        Row(
            f"{size:.0f} MB video download: RSS growth ({dl['download_seconds']:.1f} s)",
            f"{growth:.1f} MB" + ("" if intact else " (file incomplete!)"),
            "< 20 MB",
            growth < 20 and intact,
        )
    )


def table(rows: list[Row]) -> str:
    head = Row("Figure", "Measured", "Target")
    widths = [
        max(len(r.figure) for r in [head, *rows]),
        max(len(r.value) for r in [head, *rows]),
        max(len(r.target) for r in [head, *rows]),
    ]
    lines = []
    for r in [head, *rows]:
        verdict = "Result" if r is head else r.verdict
        lines.append(
            f"{r.figure:<{widths[0]}}  {r.value:>{widths[1]}}  {r.target:<{widths[2]}}  {verdict}"
        )
        if r is head:
            lines.append("-" * len(lines[0]))
    return "\n".join(line.rstrip() for line in lines)


# -- running -------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__)
    parser.add_argument(
        "--quick", action="store_true", help="a ~1-minute smoke run (smaller, compressed)"
    )
    parser.add_argument(
        "--json",
        nargs="?",
        const="-",
        metavar="FILE",
        help="write every number as JSON to FILE (no FILE: to stdout, instead of the table)",
    )
    parser.add_argument(
        "--phases",
        default=",".join(PHASES),
        help=f"comma-separated subset of {', '.join(PHASES)}",
    )
    args = parser.parse_args(argv)
    phases = [x.strip() for x in args.phases.split(",") if x.strip()]
    unknown = set(phases) - set(PHASES)
    if unknown:
        parser.error(f"unknown phase(s): {', '.join(sorted(unknown))}")

    started = time.monotonic()
    load_before = os.getloadavg()
    report: dict[str, Any] = {
        "mode": "quick" if args.quick else "full",
        "command": "python -m bench.run"
        + (" --quick" if args.quick else "")
        + ("" if phases == list(PHASES) else f" --phases {','.join(phases)}"),
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
    steps = {
        "latency": (
            "acknowledgements, then added delay and polls in real seconds "
            + ("(~25 s)" if args.quick else "(~2.3 min: the vendors' real initial waits)"),
            lambda: asyncio.run(latency.run(args.quick)),
            latency_rows,
        ),
        "load": (
            f"{jobs:,} jobs in flight, in a fresh process (~{25 if args.quick else 90} s)",
            lambda: run_child("bench.load", load_args, timeout=600),
            load_rows,
        ),
        "download": (
            "a 200 MB video download, in a fresh process (~10 s)",
            lambda: run_child("bench.download", ["--mb", "200"], timeout=300),
            download_rows,
        ),
    }
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
    lines.append(
        "- A report, not a test: missed targets do not change the exit status (0); a phase "
        "that could not run makes it 1."
    )
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())

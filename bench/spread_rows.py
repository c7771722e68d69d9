"""The rows and notes of the spread part: several bots on one PostgreSQL (`bench.spread`)."""

from __future__ import annotations

from typing import Any

from bench.table import MB, Row, secs


def spread_rows(sp: dict[str, Any], rows: list[Row]) -> None:
    n = sp["jobs"]
    procs = sp["processes"]
    tag = f"{n:,} jobs across {len(procs)} bots on PostgreSQL"
    delivered = sp["statuses"].get("delivered", 0)
    rows.append(
        Row(
            f"{tag}: delivered, peak at the vendors at once",
            f"{delivered:,} / {sp['peak_in_flight']:,}",
            f"{n:,} / {n:,}",
            delivered == n and sp["peak_in_flight"] == n,
        )
    )
    twice = len(sp["posted_twice_or_more"])
    by_two = len(sp["handed_by_two"])
    rows.append(
        Row(
            f"{tag}: delivered once (video posts a job; jobs handed over by two bots)",
            f"{sp['posted_once']:,} once, {twice} twice+, {sp['posted_never']} never; {by_two}",
            f"{n:,} once, 0 twice; 0",
            sp["posted_once"] == n and twice == 0 and by_two == 0,
        )
    )
    limit = sp["poll_interval"] + 2
    rows.append(
        Row(
            f"{tag}: added delay p50 / p95, polled vendors (n={sp['delay_n']:,}; "
            f"{sp['poll_interval']:g}-s checks)",
            secs(sp["delay_p50"], sp["delay_p95"]),
            f"p95 <= {limit:g} s",
            sp["delay_p95"] <= limit,
        )
    )
    seen, after = sp["seen_after"], sp["handed_after"]
    rows.append(
        Row(
            "  of which: done -> the check that saw it; that check -> handed over",
            f"({secs(seen[0], seen[1])[:-2]}); ({secs(after[0], after[1])[:-2]}) s",
        )
    )
    rows.append(
        Row(
            f"{tag}: gap between a job's checks p50 / p95",
            secs(*sp["check_gap"]),
            f"~{sp['poll_interval']:g} s",
        )
    )
    rows.append(
        Row(
            f"{tag}: CPU per job, the bots / + the PostgreSQL server",
            f"{sp['cpu_ms_per_job']:.1f} / {sp['cpu_ms_per_job_with_server']:.1f} ms",
        )
    )
    rss = [p["rss_peak_bytes"] / MB for p in procs]
    rows.append(
        Row(
            f"{tag}: peak RSS per bot (VmHWM)",
            ", ".join(f"{r:.0f}" for r in rss) + " MB",
            "< 250 MB each",
            max(rss) < 250,
        )
    )
    rows.append(
        Row(
            f"{tag}: peak status checks a second, all bots (any 1 s; any 10 s)",
            f"{sp['checks_peak_per_second']:,}; {sp['checks_peak_per_10s']:,.0f}",
            f"~{n / sp['poll_interval']:,.0f} ({sp['poll_interval']:g}-s checks)",
        )
    )
    rows.append(Row(f"{tag}: status checks per job, mean", f"{sp['checks_per_job']:.2f}"))


def spread_notes(sp: dict[str, Any]) -> list[str]:
    wall = sp["wall_seconds"]
    busy = sp["bots_cpu_seconds"] + sp["server_cpu_ms_per_job"] * sp["jobs"] / 1000
    busy += sp.get("sim_cpu_seconds") or 0.0
    by_vendor = ", ".join(
        f"{p} {v[0]:.1f} / {v[1]:.1f} s" for p, v in sorted(sp["delay_by_vendor"].items())
    )
    lines = [
        f"- Spread run compressed: {sp['jobs']:,} jobs made by {len(sp['processes'])} bot "
        f"processes on one PostgreSQL (a third each, made in {sp['create_seconds']:.0f} s), "
        f"initial waits {sp['initial_wait']:g} s, renders {sp['render_min']:g}-"
        f"{sp['render_max']:g} s, status checks every {sp['poll_interval']:g} s (not 5: "
        "~200 a second on this 2-core machine), no learned plans or early checks; vendor "
        f"rate/task caps raised. {wall:.0f} s from the first job made to the last ended.",
        f"- Spread: added delay p50 / p95 per vendor: {by_vendor} (apixo: its callbacks).",
        "- Spread: jobs made / submitted / delivered, per bot: "
        + "; ".join(
            f"{p['created']:,} / {p['submitted']:,} / {p['delivered']:,}" for p in sp["processes"]
        )
        + ".",
        f"- Spread: {sp['delivered_elsewhere']:,} jobs were delivered by another bot than the "
        f"one that made them; {sp['leaders_at_start']} bot led at the start. Exactly once is "
        "checked by the Discord simulator's stored posts (attachments veo-job-<id>.mp4), by "
        "the bots' hand-overs to their publishers, and by the database: "
        f"{sp['delivered_with_message_id']:,} delivered rows with a message id.",
        f"- Spread: the PostgreSQL server used {sp['server_cpu_ms_per_job']:.1f} ms per job "
        f"({sp['server_cpu_how']}); the simulators (own process) "
        + (
            f"{sp['sim_cpu_seconds'] / wall:.2f} cores"
            if sp.get("sim_cpu_seconds") is not None
            else "n/a"
        )
        + f"; the three bots {sp['bots_cpu_seconds'] / wall:.2f} cores together: "
        + f"{busy / wall:.2f} of the machine's cores on average over the run.",
    ]
    if sp.get("kept"):
        lines.append(f"- Spread: the bots' logs are kept in {sp['kept']}.")
    if sp["timed_out"]:
        lines.append("- Spread: jobs were still active at the deadline (the figures are partial).")
    for i, p in enumerate(sp["processes"]):
        logs = p["logs"]
        levels = ", ".join(f"{k} {v}" for k, v in sorted(logs["levels"].items())) or "none"
        issues = [
            f"{logs['leases_lost']} leases lost",
            f"{logs['deadlocks']} batches rolled back by a deadlock",
        ]
        if p["create_failed"]:
            issues.append(f"{p['create_failed']} jobs not made: {p['create_failures'][:2]}")
        if not p["closed_cleanly"]:
            issues.append("did not close within 30 s")
        lead = ", leading at the end" if p["leading_at_end"] else ""
        lines.append(
            f"- Spread bot {i}{lead}: logged warnings/errors: {levels}; {'; '.join(issues)}"
        )
        for kind in logs["kinds"].values():
            lines.append(f"    {kind['count']} x, e.g. {kind['example'][:400]}")
    return lines

"""The rows of the latency, load and download parts (the schedules part has its own)."""

from __future__ import annotations

from typing import Any

from bench.table import MB, Row, p, secs
from bot.settings import DOCUMENTED_RATE_PER_MINUTE


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


NOISE = 1.05  # CPU and RSS within 5 % of the old code's count as equal on this machine


def both(new: dict[str, Any], old: dict[str, Any] | None, a: str, b: str) -> str:
    """Two figures in seconds, "a / b s", or with the old code's "(a / b) / (a / b) s"."""
    if old is None:
        return secs(new[a], new[b])
    return f"({secs(new[a], new[b])[:-2]}) / ({secs(old[a], old[b])[:-2]}) s"


def load_rows(load: dict[str, Any], rows: list[Row]) -> None:
    """The load part's rows; with `--against`, the old revision's figures beside this
    code's on the rows it has too ("new / old")."""
    old: dict[str, Any] | None = load.get("old")
    n = load["jobs"]
    tag = f"{n:,} jobs"
    vs = " (new / old)" if old else ""
    delivered = load["statuses"].get("delivered", 0)
    rows.append(
        Row(
            f"{tag}: delivered, peak at the vendors at once",
            f"{delivered:,} / {load['peak_in_flight']:,}",
            f"{n:,} / {n:,}",
            delivered == n and load["peak_in_flight"] == n,
        )
    )
    if old is not None:
        old_done = old["statuses"].get("delivered", 0)
        rows.append(
            Row(
                "  old code: delivered, peak at the vendors at once",
                f"{old_done:,} / {old['peak_in_flight']:,}",
                "for comparison",
            )
        )
    peak, idle = load["rss_peak_bytes"] / MB, load["rss_idle_bytes"] / MB
    if old is None:
        rows.append(
            Row(
                f"{tag}: peak RSS (VmHWM; idle after login)",
                f"{peak:.0f} MB ({idle:.0f} MB)",
                "< 250 MB",
                peak < 250,
            )
        )
    else:
        old_peak, old_idle = old["rss_peak_bytes"] / MB, old["rss_idle_bytes"] / MB
        rows.append(
            Row(
                f"{tag}: peak RSS (VmHWM; idle after login){vs}",
                f"{peak:.0f} / {old_peak:.0f} MB ({idle:.0f} / {old_idle:.0f} MB)",
                "< 250 MB; new <= old (5 %)",
                peak < 250 and peak <= old_peak * NOISE,
            )
        )
    steady = load.get("cores_steady")
    old_steady = None if old is None else old.get("cores_steady")
    value = "n/a" if steady is None else f"{steady:.2f}"
    if old is not None:
        value += " / " + ("n/a" if old_steady is None else f"{old_steady:.2f}")
    rows.append(
        Row(
            f"{tag}: CPU while all in flight ({(load.get('steady_seconds') or 0):.0f} s){vs}",
            value + " cores",
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
    cpu = load["cpu_ms_per_job"]
    if old is None:
        rows.append(
            Row(
                f"{tag}: CPU per job (whole run: {load['cores_whole_run']:.2f} cores)",
                f"{cpu:.1f} ms",
            )
        )
    else:
        rows.append(
            Row(
                f"{tag}: CPU per job (whole run: {load['cores_whole_run']:.2f} / "
                f"{old['cores_whole_run']:.2f} cores){vs}",
                f"{cpu:.1f} / {old['cpu_ms_per_job']:.1f} ms",
                "new <= old (5 %)",
                cpu <= old["cpu_ms_per_job"] * NOISE,
            )
        )
    writes = f"{load['writes_per_job']:.1f} ({load['rows_changed_per_job']:.1f})"
    if old is not None:
        writes += f" / {old['writes_per_job']:.1f} ({old['rows_changed_per_job']:.1f})"
    rows.append(
        Row(
            f"{tag}: SQLite write transactions (rows changed) per job{vs}",
            writes,
            "<= 10" + (" (new)" if old else ""),
            load["writes_per_job"] <= 10,
        )
    )
    worst = load.get("polls_worst")
    checks = f"{load['polls_per_job']:.2f} ({worst or 'n/a'})"
    if old is not None:
        checks += f" / {old['polls_per_job']:.2f} ({old.get('polls_worst') or 'n/a'})"
    rows.append(Row(f"{tag}: status checks per job, mean (worst){vs}", checks))
    gaps = both(load, old, "poll_gap_p50", "poll_gap_p95")
    rows.append(Row(f"{tag}: gap between a job's checks p50 / p95{vs}", gaps))
    per_minute = load.get("checks_per_minute_peak") or {}
    window = "whole run" if load["wall_seconds"] < 60 else "any 60 s"
    for vendor, peak_checks in per_minute.items():
        limit = DOCUMENTED_RATE_PER_MINUTE.get(vendor)
        rows.append(
            Row(
                f"{tag}: peak status checks per minute ({window}), {vendor}",
                f"{peak_checks:,}",
                "none documented" if limit is None else f"<= {limit:,.0f} (documented)",
                None if limit is None else peak_checks <= limit,
            )
        )
    delay = both(load, old, "delay_p50", "delay_p95")
    rows.append(Row(f"{tag}: added delay p50 / p95 (compressed; approx.){vs}", delay))
    pg = load.get("postgres")
    if pg is not None:
        postgres_rows(pg, load, rows)


def postgres_rows(pg: dict[str, Any], lite: dict[str, Any], rows: list[Row]) -> None:
    """The same load on PostgreSQL, each figure beside SQLite's ("PostgreSQL vs SQLite").
    On SQLite the database works inside the bot's process, so its bot + server CPU is the
    bot's alone; on PostgreSQL the server's processes are added."""
    n = lite["jobs"]
    tag = f"{n:,} jobs on PostgreSQL"
    if "error" in pg:
        rows.append(Row(f"{tag}: could not measure", "ERROR", "", False))
        return
    done, lite_done = pg["statuses"].get("delivered", 0), lite["statuses"].get("delivered", 0)
    rows.append(
        Row(
            f"{tag}: delivered / peak in flight vs SQLite",
            f"{done:,} / {pg['peak_in_flight']:,} vs {lite_done:,} / {lite['peak_in_flight']:,}",
            f"{n:,} / {n:,}",
            done == n and pg["peak_in_flight"] == n,
        )
    )
    both_cpu = pg["cpu_ms_per_job"] + (pg.get("server_cpu_ms_per_job") or 0.0)
    rows.append(
        Row(
            f"{tag}: CPU per job (bot / bot + server) vs SQLite",
            f"{pg['cpu_ms_per_job']:.1f} / {both_cpu:.1f} vs "
            f"{lite['cpu_ms_per_job']:.1f} / {lite['cpu_ms_per_job']:.1f} ms",
        )
    )
    peak, lite_peak = pg["rss_peak_bytes"] / MB, lite["rss_peak_bytes"] / MB
    rows.append(
        Row(
            f"{tag}: peak RSS (bot) vs SQLite",
            f"{peak:.0f} vs {lite_peak:.0f} MB",
            "< 250 MB",
            peak < 250,
        )
    )
    rows.append(
        Row(
            f"{tag}: write transactions (rows changed) per job vs SQLite",
            f"{pg['writes_per_job']:.1f} ({pg['rows_changed_per_job']:.1f}) vs "
            f"{lite['writes_per_job']:.1f} ({lite['rows_changed_per_job']:.1f})",
            "<= 10",
            pg["writes_per_job"] <= 10,
        )
    )
    rows.append(
        Row(
            f"{tag}: added delay p50 / p95 (compressed; approx.) vs SQLite",
            f"({secs(pg['delay_p50'], pg['delay_p95'])[:-2]}) vs "
            f"({secs(lite['delay_p50'], lite['delay_p95'])[:-2]}) s",
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

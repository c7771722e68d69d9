"""The `/veo-admin stats` embed: readable for a small report, within limits for a huge one."""

from __future__ import annotations

import datetime as dt

import discord

from bot.chat.stats_view import FOOTER, reason_label, stats_embed
from storage.stats import DayCount, ModelSpend, ServerStats


def report(**kw: object) -> ServerStats:
    base: dict[str, object] = dict(
        guild_id=10,
        first_day="2026-11-16",
        last_day="2026-11-22",
        days=[
            DayCount("2026-11-22", total=12, delivered=10, failed=1, cancelled=1, active=0),
            DayCount("2026-11-20", total=3, delivered=2, failed=0, cancelled=0, active=1),
        ],
        failures=[("deadline", 2), ("CONTENT_VIOLATION", 1), ("weird`code", 1)],
        spend=[
            ModelSpend("apixo", "veo-3.1", jobs=4, dollars=4.8, unpriced_jobs=0),
            ModelSpend("apiyi", "veo_fast", jobs=8, dollars=1.2, unpriced_jobs=0),
            ModelSpend("demo", "demo-veo", jobs=3, dollars=0.0, unpriced_jobs=3),
        ],
        total_spend=6.0,
        top_users=[(111, 9, 3.6), (222, 6, 2.4)],
    )
    base.update(kw)
    return ServerStats(**base)  # type: ignore[arg-type]


def size(text: str | None) -> int:
    """Characters as Discord may count them (UTF-16 units: 🚫 is two)."""
    return len((text or "").encode("utf-16-le")) // 2


def within_limits(embed: discord.Embed) -> None:
    assert len(embed.fields) <= 25
    assert size(embed.title) <= 256 and size(embed.description) <= 4096
    for field in embed.fields:
        assert field.value and size(field.value) <= 1024
        assert field.name and size(field.name) <= 256
    assert len(embed) <= 6000
    texts = [embed.title, embed.description, embed.footer.text]
    texts += [f"{f.name}{f.value}" for f in embed.fields]
    assert sum(size(t) for t in texts) <= 6000


def fields(embed: discord.Embed) -> dict[str, str]:
    return {str(f.name).split(" (")[0]: str(f.value) for f in embed.fields}


def test_small_report_reads_well() -> None:
    embed = stats_embed(report(), days=7)
    assert embed.title == "Video stats — last 7 days"
    assert embed.footer.text == FOOTER
    assert embed.description is not None
    assert "`2026-11-16` to `2026-11-22`" in embed.description
    assert "**15 jobs** — 12 delivered, 1 failed, 1 cancelled, 1 in progress." in embed.description
    f = fields(embed)
    assert list(f) == ["Jobs per day", "Failures by reason", "Estimated spend", "Top members"]
    assert f["Jobs per day"].splitlines() == [
        "`2026-11-22` · 12 jobs · 10 ✅ · 1 ❌ · 1 🚫",
        "`2026-11-20` · 3 jobs · 2 ✅ · 1 ⏳",
    ]
    assert f["Failures by reason"].splitlines() == [
        "Took too long `deadline` · 2",
        "Blocked by content policy `CONTENT_VIOLATION` · 1",
        "`weird'code` · 1",
    ]
    assert f["Estimated spend"].splitlines() == [
        "apixo / veo-3.1 · 4 jobs · $4.80",
        "apiyi / veo\\_fast · 8 jobs · $1.20",
        "demo / demo-veo · 3 jobs · no documented price",
        "**Total: $6.00**",
        "3 jobs on models without a documented price are not counted.",
    ]
    assert f["Top members"].splitlines() == [
        "1. <@111> · 9 jobs · $3.60",
        "2. <@222> · 6 jobs · $2.40",
    ]


def test_partly_priced_model_and_single_unpriced_job() -> None:
    spend = [ModelSpend("apiyi", "veo", jobs=3, dollars=0.3, unpriced_jobs=1)]
    embed = stats_embed(report(spend=spend, total_spend=0.3, failures=[]), days=1)
    assert embed.title == "Video stats — last day"
    f = fields(embed)
    assert f["Failures by reason"] == "No failed jobs."
    assert f["Estimated spend"].splitlines() == [
        "apiyi / veo · 3 jobs · $0.30 (1 without a price)",
        "**Total: $0.30**",
        "1 job on models without a documented price is not counted.",
    ]


def test_no_unpriced_note_when_every_job_is_priced() -> None:
    spend = [ModelSpend("apiyi", "veo", jobs=1, dollars=0.15, unpriced_jobs=0)]
    embed = stats_embed(report(spend=spend, total_spend=0.15), days=7)
    assert fields(embed)["Estimated spend"] == "apiyi / veo · 1 job · $0.15\n**Total: $0.15**"


def test_empty_window() -> None:
    empty = report(days=[], failures=[], spend=[], total_spend=0.0, top_users=[])
    embed = stats_embed(empty, days=30)
    assert embed.description == "No videos were made on this server in the last 30 days."
    assert embed.fields == []
    assert embed.footer.text == FOOTER


def test_reason_labels() -> None:
    assert reason_label("rejected") == "Refused by the vendor `rejected`"
    assert reason_label("unknown") == "No reason recorded `unknown`"
    assert reason_label("something_new") == "`something_new`"


def test_huge_report_fits_discord_limits() -> None:
    last = dt.date(2026, 11, 22)
    days = [
        DayCount(
            (last - dt.timedelta(days=i)).isoformat(),
            total=1000 + i,
            delivered=900,
            failed=50 + i,
            cancelled=40,
            active=10,
        )
        for i in range(90)
    ]
    spend = [
        ModelSpend(f"vendor-{i}", f"veo-3.1-landscape-fast-fl-{i}", 500, 1234.5, 7)
        for i in range(60)
    ]
    failures = [(f"VENDOR_SPECIFIC_FAILURE_{i}_" + "x" * 300, 90 - i) for i in range(80)]
    big = report(
        first_day=days[-1].day,
        days=days,
        failures=failures,
        spend=spend,
        total_spend=60 * 1234.5,
        top_users=[(10**18 + i, 99999, 99999.99) for i in range(5)],
    )
    embed = stats_embed(big, days=90)
    within_limits(embed)
    f = fields(embed)
    # The days continue over untitled fields while the 6000 characters allow.
    names = [str(field.name) for field in embed.fields]
    continued = [str(field.value) for field in embed.fields if field.name == "\u200b"]
    assert names[0].startswith("Jobs per day")
    assert names[1 : len(continued) + 1] == ["\u200b"] * len(continued)
    per_day = "\n".join([f["Jobs per day"], *continued]).splitlines()
    assert per_day[0].startswith("`2026-11-22` · 1000 jobs")
    shown = len(per_day) - 1
    assert 40 < shown < 90
    assert per_day[:shown] == [line for line in per_day if line.startswith("`")]
    hidden = days[shown:]
    assert per_day[-1] == (
        f"… and {len(hidden)} earlier days with {sum(d.total for d in hidden)} jobs"
    )
    reasons = f["Failures by reason"].splitlines()
    assert reasons[0] == "`VENDOR_SPECIFIC_FAILURE_0_" + "x" * 32 + " …` · 90"
    assert all(line.count("`") == 2 for line in reasons[:-1])
    assert f["Failures by reason"].splitlines()[-1].startswith("… and ")
    spend_lines = f["Estimated spend"].splitlines()
    assert spend_lines[-3].startswith("… and ")
    assert spend_lines[-2] == "**Total: $74070.00**"
    assert spend_lines[-1] == "420 jobs on models without a documented price are not counted."


def test_ninety_quiet_days_are_all_listed() -> None:
    last = dt.date(2026, 11, 22)
    days = [DayCount((last - dt.timedelta(days=i)).isoformat(), 3, 3, 0, 0, 0) for i in range(90)]
    embed = stats_embed(report(days=days, first_day=days[-1].day), days=90)
    within_limits(embed)
    day_values = [str(field.value) for field in embed.fields[:3]]
    assert [str(field.name) for field in embed.fields[1:3]] == ["\u200b", "\u200b"]
    lines = "\n".join(day_values).splitlines()
    assert lines == [f"`{d.day}` · 3 jobs · 3 ✅" for d in days]
    assert str(embed.fields[3].name) == "Failures by reason"

"""The listings a member asks for (`/veo status`, `history`, `help`, `models`) and the admin
embeds (`/veo-admin stats`, `log`) read in the asker's language: Spanish and Chinese show
the same data (job numbers, labels, counts, dollars, times) in their own words, within
Discord's limits, and no locale given still reads the English word for word."""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import pytest

from bot.chat import audit_view, estimates, listings, stats_view
from bot.chat.audit_view import audit_embed, audit_line
from bot.chat.i18n import catalogue, has, text
from bot.chat.listings import help_embed, history_page, job_details, model_summary
from bot.chat.messages import status_line
from bot.chat.stats_view import REASONS, reason_label, stats_embed
from bot.jobs.admin import AuditAction
from bot.jobs.quota import QuotaView
from bot.jobs.schedule import Typical
from bot.providers.base import Mode
from bot.providers.demo import DemoProvider
from bot.providers.registry import ProviderRegistry
from storage import Job, JobStatus
from storage.audit import AuditEntry
from storage.models import QuotaState
from tests.chat.test_stats_view import report, within_limits

LOCALES = ("es-ES", "zh-CN")
NOW = 1_790_000_000.0
# English words that must not survive translation (each from a different sentence).
ENGLISH = re.compile(
    r"\b(Status|Created|Ended|Avoid|Images|Your videos|newest first|Video stats|Failures by"
    r"|Estimated spend|Top members|Admin log|refunded|cancelled|delivered|per video|about"
    r"|Default here|help|Commands|limits)\b"
)


def job(job_id: int = 12, **kw: object) -> Job:
    request = {"prompt": "a lighthouse at dusk", "provider": "demo", "duration": 8, "seed": 7}
    base: dict[str, object] = dict(
        id=job_id,
        user_id=111,
        guild_id=10,
        channel_id=20,
        request_json=json.dumps(request),
        provider="demo",
        model="demo-veo",
        status=JobStatus.DELIVERED,
        task_id=None,
        progress=None,
        stage=None,
        attempts=0,
        next_poll_at=0.0,
        deadline_at=None,
        lease_owner=None,
        lease_until=None,
        error_code=None,
        error_message=None,
        result_path=None,
        result_url=None,
        result_url_expires_at=None,
        result_size=None,
        filesize_limit=10 * 1024 * 1024,
        status_message_id=30,
        delivery_mode="file",
        interaction_app_id=None,
        interaction_token=None,
        interaction_expires_at=None,
        delivery_started_at=None,
        delivered_message_id=40,
        cancel_requested_at=None,
        callback_token=None,
        quota_day="2026-11-22",
        quota_state=QuotaState.COMMITTED,
        created_at=NOW - 600,
        submitted_at=NOW - 590,
        completed_at=NOW - 500,
        finished_at=NOW - 480,
        updated_at=NOW - 480,
    )
    base.update(kw)
    return Job(**base)  # type: ignore[arg-type]


def with_images(job_id: int) -> Job:
    request = {
        "prompt": "two cats\nin the rain",
        "provider": "demo",
        "negative_prompt": "blur, watermark",
        "mode": "reference",
        "image_count": 2,
    }
    return job(job_id, request_json=json.dumps(request), status=JobStatus.QUEUED)


@pytest.mark.parametrize("locale", LOCALES)
def test_job_details_in_the_members_language(locale: str) -> None:
    details = job_details(job(), "Demo clip", NOW, show_owner=True, locale=locale)
    assert not ENGLISH.search(details), details
    for data in ("#12", "<@111>", "**Demo clip**", "a lighthouse at dusk", "7"):
        assert data in details
    assert f"<t:{int(NOW - 600)}:f>" in details and f"<t:{int(NOW - 480)}:R>" in details
    assert "https://discord.com/channels/10/20/40" in details
    # The job's own status line follows the member too, not the server's language.
    assert status_line(job(), NOW, locale=locale) in details
    assert status_line(job(), NOW, locale=locale) != status_line(job(), NOW, locale="en")

    queued = job_details(with_images(13), "Demo clip", NOW, position=2, locale=locale)
    assert not ENGLISH.search(queued), queued
    assert "blur, watermark" in queued and "#13" in queued and "**2**" in queued
    assert text("listing.mode.reference", locale) in queued


def test_job_details_in_english_by_default() -> None:
    details = job_details(with_images(13), "Demo clip", NOW)
    assert "Images: reference images (2 images)" in details
    assert "Avoid: blur, watermark" in details
    assert details.splitlines()[0] == "🎬 **Job #13**"


@pytest.mark.parametrize("locale", LOCALES)
def test_history_page_in_the_members_language(locale: str) -> None:
    jobs = [job(12), job(11, status=JobStatus.FAILED, delivered_message_id=None)]
    page = history_page(jobs, 1, has_more=False, locale=locale)
    assert not ENGLISH.search(page), page
    lines = page.splitlines()
    assert "11" in lines[0] and "12" in lines[0]  # videos 11–12 of page 2
    assert lines[1].startswith("**#12** · ✅ " + text("listing.status.delivered", locale))
    assert lines[2].startswith("**#11** · ❌ " + text("listing.status.failed", locale))
    assert "](<https://discord.com/channels/10/20/40>)" in lines[1]
    assert history_page([], 0, has_more=False, locale=locale) != history_page([], 0, has_more=False)
    assert "**◀" in history_page([], 3, has_more=False, locale=locale)
    choice = listings.job_choice_label(job(12), locale=locale)
    assert choice == f"#12 · {text('listing.status.delivered', locale)} · a lighthouse at dusk"


@pytest.mark.parametrize("locale", LOCALES)
def test_help_and_models_in_the_members_language(locale: str) -> None:
    providers = ProviderRegistry({"demo": DemoProvider()}, "demo")
    quota = QuotaView(used=1, limit=5, resets_at=int(NOW + 3600), active=[])
    commands = [("`/veo generate`", "Make a video")]  # the cog's words, passed as they are
    embed = help_embed(
        commands,
        quota,
        max_active=3,
        providers=providers,
        default_model="Demo clip",
        locale=locale,
    )
    said = "\n".join([embed.title or "", embed.description or "", embed.footer.text or ""])
    assert not ENGLISH.search(said.replace("`/veo generate` — Make a video", "")), said
    assert "**5**" in said and "**4**" in said and "**3**" in said and "Demo clip" in said
    assert f"<t:{int(NOW + 3600)}:R>" in said
    [field] = embed.fields
    assert "Demo (no real video model)" in str(field.name) and "**Demo clip**" in str(field.value)

    spec = next(iter(providers.get("demo").models.values()))
    summary = model_summary(spec, locale=locale)
    assert summary.startswith(f"`{spec.name}`") and not ENGLISH.search(summary), summary
    note = estimates.render_time_note(Typical(80, 130, 9), locale=locale)
    assert "1m 20s" in note and "2m 10s" in note and "9" in note
    assert note != estimates.render_time_note(Typical(80, 130, 9))
    [models] = listings.models_embeds([("Demo clip — demo", summary)], "Demo clip", locale=locale)
    assert "**Demo clip**" in str(models.description) and not ENGLISH.search(str(models.title))


@pytest.mark.parametrize("locale", LOCALES)
def test_stats_embed_in_the_admins_language(locale: str) -> None:
    embed = stats_embed(report(), days=7, locale=locale)
    within_limits(embed)
    said = "\n".join(
        [str(embed.title), str(embed.description), str(embed.footer.text)]
        + [f"{f.name}\n{f.value}" for f in embed.fields]
    )
    assert not ENGLISH.search(said), said
    assert "7" in str(embed.title)
    assert "`2026-11-16`" in str(embed.description) and "**15 " in str(embed.description)
    for data in ("$4.80", "$1.20", "**", "<@111>", "$3.60", "`2026-11-22`", "10 ✅", "`deadline`"):
        assert data in said, data
    assert (
        reason_label("deadline", locale=locale)
        == text("admin_view.reason.deadline", locale) + " `deadline`"
    )
    one_day = stats_embed(report(), days=1, locale=locale)
    assert one_day.title != embed.title and "7" not in str(one_day.title)


@pytest.mark.parametrize("locale", LOCALES)
def test_a_huge_stats_report_fits_in_every_language(locale: str) -> None:
    failures = [(f"VENDOR_FAILURE_{i}_" + "x" * 300, 90 - i) for i in range(80)]
    top = [(10**18 + i, 99999, 99999.99) for i in range(5)]
    embed = stats_embed(report(failures=failures, top_users=top), days=90, locale=locale)
    within_limits(embed)
    assert str(embed.fields[1].value).splitlines()[-1].startswith("… ")


def entry(action: str, detail: str = "", **kw: object) -> AuditEntry:
    base: dict[str, object] = dict(
        id=1, guild_id=10, actor_id=7, action=action, target_id=8, job_id=12, detail=detail
    )
    base.update(kw)
    return AuditEntry(created_at=NOW, **base)  # type: ignore[arg-type]


ENTRIES = [
    entry(AuditAction.SETTINGS, json.dumps({"daily_quota": 5, "banned_words": ["a", "b"]})),
    entry(AuditAction.SETTINGS, json.dumps({"alert_channel_id": None, "model_weights": {"x": 2}})),
    entry(AuditAction.MEMBER_QUOTA, "3"),
    entry(AuditAction.MEMBER_QUOTA, ""),
    entry(AuditAction.QUOTA_RESET, "1", target_id=None),
    entry(AuditAction.REFUND),
    entry(AuditAction.DELETE),
    entry(AuditAction.CANCEL),
    entry("something_new"),
]


@pytest.mark.parametrize("locale", LOCALES)
def test_audit_log_in_the_admins_language(locale: str) -> None:
    embed = audit_embed(ENTRIES, retention_days=30, locale=locale)
    assert embed.description is not None and not ENGLISH.search(str(embed.title))
    lines = embed.description.splitlines()
    english = [audit_line(e) for e in ENTRIES]
    assert len(lines) == len(ENTRIES)
    for line, was in zip(lines, english, strict=True):
        assert line != was and line.startswith(f"<t:{int(NOW)}:f> · <@7> ")
    assert "**5**" in lines[0] and "2" in lines[0]
    assert "`x`" in lines[1] and "2" in lines[1]
    assert "<@8>" in lines[2] and "**3**" in lines[2]
    assert "**1**" in lines[4] and "<@8>" not in lines[4]
    assert all("#12" in line for line in lines[5:8])
    assert "`something_new`" in lines[8]
    assert "30" in str(embed.footer.text)
    empty = audit_embed([], retention_days=30, locale=locale)
    assert "30" in str(empty.description) and not ENGLISH.search(str(empty.description))


def test_audit_log_in_english_by_default() -> None:
    lines = [audit_line(e) for e in ENTRIES]
    assert lines[0].endswith(
        "set the banned words to 2 words; the daily quota to **5** videos a day"
    )
    assert lines[1].endswith("set the alert channel to off; the model weights to `x` counts 2")
    assert lines[2].endswith("set <@8>'s own quota to **3** videos a day")
    assert lines[4].endswith("reset a member's quota for today (refunded **1** video)")
    assert lines[6].endswith("deleted the video of job #12 by <@8>")
    footer = audit_embed(ENTRIES, retention_days=30).footer.text
    assert footer == "Entries are kept for 30 days."


# -- the code and the catalogue agree --------------------------------------------------

MODULES = (listings, estimates, stats_view, audit_view)


def _literal_keys() -> set[str]:
    keys: set[str] = set()
    for module in MODULES:
        source = Path(str(module.__file__)).read_text()
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                if re.fullmatch(r"(listing|admin_view)\.[\w.]*\w", node.value):
                    keys.add(node.value)
    return keys


def test_every_key_the_code_names_is_in_the_catalogue() -> None:
    keys = _literal_keys()
    assert len(keys) > 40  # guards the walk itself
    assert sorted(k for k in keys if k not in catalogue("en")) == []
    # Keys made from data: every mode, status and failure reason has its words.
    assert all(has(f"listing.mode.{m.value}") for m in Mode)
    assert all(has(f"listing.status.{s.value}") for s in JobStatus)
    assert all(has(f"admin_view.reason.{name}") for name in REASONS.values())

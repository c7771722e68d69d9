"""The Discord side below the cogs: everything that turns the job core's state into what
members and admins see, and the shared path of every new job.

- `publisher` and `posting` — the `Publisher` port's Discord implementation: job
  messages and their rate-limited edits, failure pings, admins' alerts, and posting the
  finished video (file, re-encoded copy or link) exactly once.
- `components` — the persistent job buttons (registered by the cog that owns them);
  `submission` — validate, read images, queue and announce a new job, for every way of
  asking; `askers` — who is asking, read from an interaction, for the access rule.
- `messages`, `stats_view`, `audit_view` — the words and embeds; `bot` — the bot as this
  side sees it (`ChatBot`), so nothing here imports the composition root.

May import: `discord`, `bot.jobs`, `bot.providers`, `bot.media`, `storage` and the shared
pieces at the top of `bot/`. Never `cogs`, `bot.client` or `bot.web`.
"""

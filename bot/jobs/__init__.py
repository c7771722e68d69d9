"""The job core: everything between a validated request and a finished job, free of
Discord.

- `loop` — the job manager: claims due jobs with a lease, wakes up when told, hands
  each job to its state's step, gives jobs back on stop.
- `steps`, `delivery`, `endings` — one handler per job state (queued, submitting,
  running; downloading, delivering) and the ways a job ends, each persisted before it is
  acted on.
- `retry` — backoff and poll spacing; `health` — vendor health and outage alerts;
  `positions` — what members are shown while a job waits (through the `Publisher` port in
  `publishing`); `pacing` — each vendor's rate and task cap.
- `service` — what the commands call; `requests` — validating a request; `access` — who
  may act on a job; `admin` — a server's settings and its admin log; `days` — UTC days
  and durations; `retention` — the sweep that forgets old prompts.

May import: `bot.providers`, `storage`, `bot.media` (image checks), and the shared
pieces at the top of `bot/` (settings, logs, metrics). Never `discord`, `bot.chat`,
`bot.web` or `cogs`: the chat side talks to the core through `Publisher`.
"""

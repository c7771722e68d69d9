"""The job core: everything between a validated request and a finished job, free of
Discord.

- `loop` — the job manager: claims due jobs with a lease, wakes up when told, hands
  each job to its state's step, gives jobs back on stop. `crew` — what every step shares.
- `steps` (queued, submitting, running), `delivery` (downloading, delivering) and
  `endings` (delivered, failed, cancelled): one handler per job state, each transition
  persisted before it is acted on.
- `retry` — backoff, poll spacing and schedules; `health` — vendor health and outage
  alerts; `positions` — what members are shown while a job waits or runs, through the
  `Publisher` port in `publishing`; `pacing` — each vendor's rate and task cap.
- `service` — what the commands call; `requests` — validating a request (`cleaning` — the
  prompt's text); `rules` — a server's rules; `quota` — quota views and refusals;
  `refusals` — a refusal as a sentence by key (`Say`); `access` — who may act on a job;
  `admin` — a server's settings, stats and admin log; `days` — UTC days and durations;
  `retention` — the sweep that forgets old prompts and departed servers.

May import: `bot.providers`, `storage`, `bot.media` (image checks) and the shared pieces
at the top of `bot/` (settings, logs, metrics). Never `discord`, `bot.chat`, `bot.web`,
`bot.client` or `cogs`: the chat side talks to the core through `Publisher`.
"""

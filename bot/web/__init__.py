"""The bot's own web server (`server`): vendor callbacks, member images for vendors that
fetch URLs, oversize videos from the file host, and `/healthz` and `/metrics` for the
operator. It writes only through the store and wakes the job loop through a callable.

May import: `storage`, `bot.media` (the file host) and the shared pieces (metrics).
Imports nothing of `bot.jobs`, `bot.chat`, `cogs`, and not `discord`.
"""

"""Media: what the bot does with images and videos as files, free of Discord and of the
job core. Image checks read members' uploads by their bytes (`images`), re-encoding makes
a video fit an upload limit (`reencode`), and the file host serves videos too large for
Discord at unguessable, expiring URLs (`file_host`).

May import: the standard library, third-party libraries, and the shared pieces at the top
of `bot/` (settings, logs, metrics). Imports nothing of `bot.jobs`, `bot.chat`, `cogs`.
"""

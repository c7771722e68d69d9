# veo-bot: the same install as the README (pip install ".[video]", which re-encodes videos over
# Discord's upload limit with a bundled ffmpeg), as a non-root user, with the database in the
# /data volume. No secrets are baked in: pass DISCORD_TOKEN and vendor keys at run time
# (docker run --env-file .env ...).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    VEO_DB_PATH=/data/veo.sqlite3

RUN useradd --create-home --uid 10001 veo && mkdir /data && chown veo /data
WORKDIR /app
COPY pyproject.toml README.md ./
COPY bot ./bot
COPY cogs ./cogs
COPY storage ./storage
RUN pip install ".[video]"

USER veo
VOLUME ["/data"]
CMD ["veo-bot"]

# veo-bot: the same install as the README (pip install ".[video]", which re-encodes videos over
# Discord's upload limit with a bundled ffmpeg), as a non-root user, with the database in the
# /data volume. No secrets are baked in: pass DISCORD_TOKEN and vendor keys at run time
# (docker run --env-file .env ..., or docker compose with the example docker-compose.yml).
FROM python:3.11-slim

# The web server is on inside the container so the HEALTHCHECK can reach /healthz; publish the
# port only if vendors must reach it (VEO_PUBLIC_URL behind your HTTPS proxy).
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    VEO_DB_PATH=/data/veo.sqlite3 \
    VEO_HTTP_HOST=0.0.0.0 \
    VEO_HTTP_PORT=8080

RUN useradd --create-home --uid 10001 veo && mkdir /data && chown veo /data
WORKDIR /app
COPY pyproject.toml README.md ./
COPY bot ./bot
COPY cogs ./cogs
COPY storage ./storage
# The project itself, with its dependencies' ranges from pyproject.toml (README: "Install").
# hadolint ignore=DL3013
RUN pip install ".[video]"

USER 10001
VOLUME ["/data"]
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request as u; sys.exit(u.urlopen('http://127.0.0.1:8080/healthz', timeout=4).status != 200)"]
CMD ["veo-bot"]

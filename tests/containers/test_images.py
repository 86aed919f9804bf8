"""Each service image, as `make images` built it: small, non-root, only the virtual environment,
labelled with its package's version, and every console script of the package starts."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.containers import (
    SIZE_LIMIT_MB,
    ServicePackage,
    inspect_image,
    run_once,
    service_packages,
)

PACKAGES = service_packages()
HOST_EXTRA_CAS = sorted(Path("/usr/local/share/ca-certificates").glob("**/*.crt"))


@pytest.fixture(params=PACKAGES, ids=[p.name for p in PACKAGES])
def service(request: pytest.FixtureRequest) -> ServicePackage:
    found: ServicePackage = request.param
    return found


def test_there_is_an_image_for_the_api_and_each_worker() -> None:
    names = {p.name for p in PACKAGES}
    assert {"lumi-api", "lumi-image-worker", "lumi-model-worker"} <= names


def test_the_image_is_within_its_size_limit(service: ServicePackage) -> None:
    size = int(inspect_image(service.image)["Size"])
    print(f"\n{service.image}: {size / 1e6:.0f} MB (limit {service.size_limit_mb} MB)")
    assert size <= service.size_limit_mb * 1e6, f"{service.image} is {size / 1e6:.0f} MB"


def test_only_an_image_that_says_why_may_exceed_350_mb() -> None:
    larger = {p.name for p in PACKAGES if p.size_limit_mb > SIZE_LIMIT_MB}
    assert larger <= {"lumi-slice-worker"}  # PrusaSlicer's libraries: deploy/README.md


def test_the_service_runs_as_a_non_root_user(service: ServicePackage) -> None:
    config = inspect_image(service.image)["Config"]
    assert config["User"] == "10001:10001"
    who = run_once(service.image, "id", "-u")
    assert (who.returncode, who.stdout.strip()) == (0, "10001"), who.stderr


def test_the_image_says_how_to_run_stop_and_probe_it(service: ServicePackage) -> None:
    image = inspect_image(service.image)
    config = image["Config"]
    assert config["Labels"]["org.opencontainers.image.version"] == service.version
    assert config["Labels"]["org.opencontainers.image.title"] == service.name
    assert config["StopSignal"] == "SIGTERM"
    assert image["Healthcheck"]["Test"] == ["CMD", "python", "/app/healthcheck.py"]
    assert config["Cmd"] == ["lumi-service"]
    env = dict(item.split("=", 1) for item in config["Env"])
    assert (env["LOG_FORMAT"], env["HOST"], env["LUMI_SERVICE"]) == (
        "json",
        "0.0.0.0",
        service.name,
    )


def test_the_installed_package_is_the_labelled_version(service: ServicePackage) -> None:
    code = f"import importlib.metadata as m; print(m.version({service.name!r}))"
    result = run_once(service.image, "python", "-c", code)
    assert (result.returncode, result.stdout.strip()) == (0, service.version), result.stderr


def test_every_console_script_starts(service: ServicePackage) -> None:
    assert service.scripts
    for script in ("lumi-service", *service.scripts):
        result = run_once(service.image, script, "--help")
        assert result.returncode == 0, (script, result.stderr)
        assert "usage:" in result.stdout, script


def test_only_the_virtual_environment_is_added(service: ServicePackage) -> None:
    """No uv, no compiler, no package cache, no build sources, no pip in the service's venv."""
    probe = (
        "for tool in uv gcc cc pip; do command -v $tool; done; "
        "ls -d /root/.cache /src /opt/uv /app/.venv/bin/pip 2>/dev/null; true"
    )
    found = run_once(service.image, "sh", "-c", probe, user="0")
    assert (found.returncode, found.stdout) == (0, ""), found.stdout + found.stderr


@pytest.mark.skipif(not HOST_EXTRA_CAS, reason="this host trusts no CA of its own")
def test_the_build_hosts_own_ca_is_not_baked_in(service: ServicePackage) -> None:
    """The build downloads through the host's CA bundle (a build secret), which no layer keeps."""
    bundle = run_once(service.image, "cat", "/etc/ssl/certs/ca-certificates.crt")
    assert bundle.returncode == 0, bundle.stderr
    for path in HOST_EXTRA_CAS:
        body = "".join(line for line in path.read_text().splitlines() if "-----" not in line)
        assert body[64:192] not in bundle.stdout.replace("\n", ""), path

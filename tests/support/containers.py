"""The service images (deploy/Containerfile) and the containers a test runs from them, with podman.

Every container a test starts is named `lumi-test-<run>-<role>` and removed by `Containers.close`,
whatever happened; its log (`podman logs`) is printed first, which pytest shows when a test failed.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.support.services import json_events

ROOT = Path(__file__).resolve().parents[2]
SIZE_LIMIT_MB = 350  # MB (10^6 bytes), as podman and docker count image sizes
LOG_TAIL_LINES = 60


@dataclass(frozen=True)
class ServicePackage:
    """A workspace member under services/ with a console script of its own name: a service,
    with an image from `make images`."""

    name: str
    version: str
    scripts: tuple[str, ...]
    # SIZE_LIMIT_MB unless its pyproject says otherwise ([tool.lumi.image] size-limit-mb), with
    # the reason there and in deploy/README.md
    size_limit_mb: int = SIZE_LIMIT_MB

    @property
    def image(self) -> str:
        return f"{self.name}:{self.version}"

    @property
    def module(self) -> str:
        return self.name.replace("-", "_")

    @property
    def runnable(self) -> bool:
        return self.name in self.scripts


def service_packages(*, runnable: bool = True) -> list[ServicePackage]:
    """Read from services/*/pyproject.toml, as deploy/build-images.sh does (which builds the
    runnable ones: a package gets its image once it has its console script)."""
    found = []
    for path in sorted(ROOT.glob("services/*/pyproject.toml")):
        pyproject = tomllib.loads(path.read_text())
        project = pyproject["project"]
        scripts = tuple(project.get("scripts", {}))
        image = pyproject.get("tool", {}).get("lumi", {}).get("image", {})
        limit = int(image.get("size-limit-mb", SIZE_LIMIT_MB))
        found.append(ServicePackage(project["name"], project["version"], scripts, limit))
    return [p for p in found if p.runnable or not runnable]


def package(name: str) -> ServicePackage:
    return next(p for p in service_packages() if p.name == name)


def podman_binary() -> str | None:
    return shutil.which("podman")


def podman(
    *args: str, check: bool = True, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    binary = podman_binary()
    assert binary is not None
    result = subprocess.run(
        [binary, *args], capture_output=True, text=True, timeout=timeout, check=False
    )
    if check and result.returncode != 0:
        raise AssertionError(f"podman {' '.join(args)} -> {result.returncode}\n{result.stderr}")
    return result


def inspect_image(image: str) -> dict[str, Any]:
    found: list[dict[str, Any]] = json.loads(podman("image", "inspect", image).stdout)
    return found[0]


def run_once(image: str, *argv: str, user: str | None = None) -> subprocess.CompletedProcess[str]:
    """`podman run --rm image argv…`: a one-off command in a fresh container."""
    options = ["--user", user] if user else []
    return podman("run", "--rm", "--no-healthcheck", *options, image, *argv, check=False)


@dataclass
class Container:
    name: str
    image: str

    def state(self) -> dict[str, Any]:
        found: list[dict[str, Any]] = json.loads(podman("container", "inspect", self.name).stdout)
        state: dict[str, Any] = found[0]["State"]
        return state

    @property
    def running(self) -> bool:
        return bool(self.state()["Running"])

    def kill(self) -> None:
        """SIGKILL: no clean-up, no drain."""
        podman("kill", "--signal", "KILL", self.name)
        podman("wait", self.name, timeout=30)

    def stop(self, timeout: float) -> int:
        """`podman stop` (the image's STOPSIGNAL, then SIGKILL after `timeout`): the exit code."""
        podman("stop", "--time", str(int(timeout)), self.name, timeout=timeout + 30)
        return int(self.state()["ExitCode"])

    def healthcheck(self) -> subprocess.CompletedProcess[str]:
        """Runs the image's HEALTHCHECK once (exit 0: healthy)."""
        return podman("healthcheck", "run", self.name, check=False)

    def lines(self) -> list[str]:
        result = podman("logs", self.name, check=False)
        return (result.stdout + result.stderr).splitlines()

    def events(self) -> list[dict[str, Any]]:
        """The JSON log lines it wrote (the images log JSON by default)."""
        return json_events(self.lines())

    def tail(self, count: int = LOG_TAIL_LINES) -> str:
        return "\n".join(self.lines()[-count:])


@dataclass
class Containers:
    """The containers of one test, all on the host's network with one environment."""

    run_id: str
    env: dict[str, str]
    volumes: list[str] = field(default_factory=list)
    started: list[Container] = field(default_factory=list)

    def env_options(self, **env: str) -> list[str]:
        options = []
        for key, value in {**self.env, **env}.items():
            options += ["--env", f"{key}={value}"]
        return options

    def start(self, role: str, image: str, *argv: str, **env: str) -> Container:
        name = f"lumi-test-{self.run_id}-{role}"
        options = ["--detach", "--name", name, "--hostname", name, "--network", "host"]
        # the HEALTHCHECK stays defined (`healthcheck()` runs it), without podman's systemd timer
        options += ["--health-interval", "disable", *self.env_options(**env)]
        for volume in self.volumes:
            options += ["--volume", volume]
        container = Container(name, image)
        self.started.append(container)
        podman("run", *options, image, *argv)
        return container

    def run_once(self, image: str, *argv: str) -> subprocess.CompletedProcess[str]:
        """A one-off command with this environment on the host's network (`lumi token …`)."""
        return podman("run", "--rm", "--network", "host", *self.env_options(), image, *argv)

    def close(self) -> None:
        """Print every container's log, then remove them all (running or not)."""
        for container in self.started:
            print(f"\n===== {container.name} =====\n{container.tail()}")
        names = [container.name for container in self.started]
        if names:
            podman("rm", "--force", "--time", "0", *names, check=False, timeout=120)


def running_as_root() -> bool:
    return os.geteuid() == 0

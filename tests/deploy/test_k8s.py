"""deploy/k8s, rendered with `kubectl kustomize` (the base and the production overlay) and checked
offline: the Kubernetes objects with kubernetes-validate --strict, the KEDA objects against KEDA's
own CRD schemas (tests/deploy/keda-v2.20.2), and everything that must agree with the code —
settings, streams, consumer groups, thresholds, grace periods, probes, image versions — against
the code itself, the workers' stream and concurrency by starting the real worker."""

from __future__ import annotations

import copy
import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml
from pydantic import SecretStr

from lumi_api.settings import ApiSettings
from tests.support import backends as b
from tests.support.containers import ServicePackage, service_packages
from tests.support.manifests import (
    CONFIG_MAP,
    K8S,
    KEDA_ONLY,
    RENDERS,
    SECRET,
    SECRETS,
    Rendered,
    env_file,
    settings_classes,
    settings_from,
    worker_packages,
)
from tests.support.processes import clean_env, script

KEDA_CRDS = Path(__file__).parent / "keda-v2.20.2"
# the oldest Kubernetes these manifests are meant for, and the newest schema we have
KUBERNETES_VERSIONS = ("1.30.0", kubernetes_validate.latest_version())
# the redis-streams scaler's metadata names in KEDA 2.20 (pkg/scalers/redis_streams_scaler.go)
REDIS_STREAMS_METADATA = {
    "address",
    "addressFromEnv",
    "host",
    "hostFromEnv",
    "port",
    "portFromEnv",
    "databaseIndex",
    "enableTLS",
    "stream",
    "consumerGroup",
    "pendingEntriesCount",
    "streamLength",
    "lagCount",
    "activationLagCount",
    "username",
    "usernameFromEnv",
    "passwordFromEnv",
}


@pytest.fixture(scope="module", params=sorted(RENDERS))
def rendered(request: pytest.FixtureRequest) -> Rendered:
    return Rendered.of(request.param)


@pytest.fixture(scope="module")
def base() -> Rendered:
    return Rendered.of("base")


# -- the objects are valid ----------------------------------------------------------------------


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_kubernetes_objects_pass_strict_validation(rendered: Rendered, version: str) -> None:
    core = [doc for doc in rendered.docs if not doc["apiVersion"].startswith("keda.sh/")]
    assert {doc["kind"] for doc in core} >= {
        "ConfigMap",
        "Deployment",
        "Job",
        "Service",
        "PodDisruptionBudget",
    }
    for doc in core:
        kubernetes_validate.validate(doc, version, strict=True)


def test_no_volume_is_shared_between_pods(rendered: Rendered) -> None:
    """Files live in the bucket of STORAGE_URL: pods share no directory, on any node."""
    assert not [doc for doc in rendered.docs if doc["kind"] == "PersistentVolumeClaim"]
    for workload, pod in rendered.workloads():
        for volume in pod.get("volumes", []):
            assert "emptyDir" in volume, (workload["metadata"]["name"], volume)
    config = env_file(K8S / "base" / "config.env")
    assert (config["STORAGE_URL"] or "").startswith("s3://")


def test_strict_validation_refuses_a_misspelt_field(base: Rendered) -> None:
    """Proof that the check above is strict: one wrong field name fails it."""
    deployment = copy.deepcopy(base.named("Deployment", "lumi-api"))
    deployment["spec"]["template"]["spec"]["terminationGracePeriod"] = 30
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, KUBERNETES_VERSIONS[-1], strict=True)


def keda_schema(kind: str) -> dict[str, Any]:
    """The CRD's openAPIV3Schema, strict like the API server's field validation: an object
    with declared properties accepts no other (unless it says it preserves unknown fields)."""
    path = KEDA_CRDS / f"keda.sh_{kind.lower()}s.yaml"
    crd = yaml.safe_load(path.read_text())
    (version,) = [v for v in crd["spec"]["versions"] if v["name"] == "v1alpha1"]
    schema: dict[str, Any] = version["schema"]["openAPIV3Schema"]

    def close(node: Any) -> None:
        if isinstance(node, dict):
            preserves = node.get("x-kubernetes-preserve-unknown-fields")
            if "properties" in node and "additionalProperties" not in node and not preserves:
                node["additionalProperties"] = False
            for child in node.values():
                close(child)
        elif isinstance(node, list):
            for child in node:
                close(child)

    close(schema["properties"]["spec"])
    return schema


def test_keda_objects_match_kedas_crd_schemas(rendered: Rendered) -> None:
    keda = [doc for doc in rendered.docs if doc["apiVersion"].startswith("keda.sh/")]
    assert {doc["kind"] for doc in keda} >= {"ScaledObject"}
    for doc in keda:
        assert doc["apiVersion"] == "keda.sh/v1alpha1"
        jsonschema.validate(doc, keda_schema(doc["kind"]))
        for trigger in doc["spec"].get("triggers", []):
            assert set(trigger["metadata"]) <= REDIS_STREAMS_METADATA, trigger


def test_the_keda_schema_check_refuses_a_misspelt_field(base: Rendered) -> None:
    scaled = copy.deepcopy(base.named("ScaledObject", "lumi-image-worker"))
    scaled["spec"]["minReplicas"] = 1
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(scaled, keda_schema("ScaledObject"))


# -- every setting has its place -----------------------------------------------------------------


def all_settings() -> dict[str, bool]:
    """Every setting any service reads, and whether it is a secret (SecretStr)."""
    found: dict[str, bool] = {}
    for package in service_packages(runnable=False):
        for cls in settings_classes(package):
            for name, field in cls.model_fields.items():
                secret = SecretStr in (field.annotation, *getattr(field.annotation, "__args__", ()))
                found[name.upper()] = found.get(name.upper(), False) or secret
    return found


def test_every_setting_is_in_the_config_map_or_the_secret(base: Rendered) -> None:
    """Each setting is in config.env (a `# NAME=` line when left unset), in the Secret's keys,
    or set for its pods in their Deployment."""
    settings = all_settings()
    config = env_file(K8S / "base" / "config.env")
    secrets = env_file(SECRETS["base"])
    missing = sorted(set(settings) - set(config) - set(secrets) - base.env_names())
    assert not missing, f"add to deploy/k8s/base/config.env (or secrets.example.env): {missing}"
    unknown = sorted((set(config) | set(secrets) | base.env_names()) - set(settings) - KEDA_ONLY)
    assert not unknown, f"not a setting of any service: {unknown}"
    secret_settings = {name for name, secret in settings.items() if secret}
    assert not secret_settings & set(config), "secrets belong in lumi-secrets"
    assert secret_settings <= set(secrets)
    assert {"DATABASE_URL", "REDIS_URL"} <= set(secrets)  # they carry passwords


def test_every_workload_reads_the_config_map_and_the_secret(rendered: Rendered) -> None:
    for workload, pod in rendered.workloads():
        for container in pod["containers"]:
            refs = [next(iter(ref.values()))["name"] for ref in container["envFrom"]]
            assert any(ref.startswith(CONFIG_MAP) for ref in refs), workload["metadata"]["name"]
            assert SECRET in refs, workload["metadata"]["name"]


def test_the_api_accepts_its_environment(rendered: Rendered) -> None:
    """ApiSettings (production rules included) validates what the API pods get."""
    env = rendered.environment(rendered.container("lumi-api"))
    settings = settings_from(ApiSettings, env)
    assert settings.is_production
    assert (settings.host, settings.port, settings.api_processes) == ("0.0.0.0", 3000, 1)
    assert settings.renders_json
    assert not settings.relay_enabled  # lumi-relay publishes
    assert rendered.named("Deployment", "lumi-relay")["spec"]["template"]["spec"]["containers"][0][
        "command"
    ] == ["lumi", "relay"]


# -- the workers' scaling agrees with the workers ------------------------------------------------


@pytest.fixture(scope="module")
def private_redis() -> Iterator[str]:
    """The workers start against a Redis of their own: they use the deployment's key prefix."""
    with b.embedded_valkey() as url:
        yield url


def consumer_of(
    package: ServicePackage, env: dict[str, str], redis_url: str, tmp: Path
) -> dict[str, Any]:
    """Start the real worker with the pod's environment (in burst mode, on a private Redis) and
    return the stream, group and concurrency its consumer reports at start-up."""
    # files in a local directory whatever the pod's storage is (STORAGE_DIR is STORAGE_URL's
    # deprecated alias; the two together are refused)
    storage = tmp / "storage"
    local = (
        {"STORAGE_DIR": str(storage)} if "STORAGE_DIR" in env else {"STORAGE_URL": storage.as_uri()}
    )
    overrides = {
        "REDIS_URL": redis_url,
        "DATABASE_URL": f"sqlite:///{tmp / 'lumi.db'}",
        "HEALTH_PORT": "0",
        **local,
    }
    result = subprocess.run(
        [script(package.name), "--burst"],
        env=clean_env(**{**env, **overrides}),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    started: list[dict[str, Any]] = [line for line in lines if line["event"] == "consumer.started"]
    assert len(started) == 1, result.stdout
    return started[0]


@pytest.mark.slow
@pytest.mark.parametrize("package", worker_packages(), ids=lambda p: p.name)
def test_each_worker_scales_on_the_stream_group_and_concurrency_it_really_uses(
    rendered: Rendered, package: ServicePackage, private_redis: str, tmp_path: Path
) -> None:
    deployment = rendered.named("Deployment", package.name)
    assert deployment["metadata"]["labels"]["app.kubernetes.io/component"] == "worker"
    assert "replicas" not in deployment["spec"], "KEDA owns the replica count"
    container = rendered.container(package.name)
    assert container["image"].rsplit("/", 1)[-1].startswith(f"{package.name}:")
    env = rendered.environment(container)
    consumer = consumer_of(package, env, private_redis, tmp_path)

    scaled = rendered.named("ScaledObject", package.name)
    assert scaled["spec"]["scaleTargetRef"]["name"] == package.name
    triggers = scaled["spec"]["triggers"]
    assert {trigger["type"] for trigger in triggers} == {"redis-streams"}
    thresholds = {}
    for trigger in triggers:
        meta = trigger["metadata"]
        assert meta["stream"] == consumer["stream"]
        assert meta["consumerGroup"] == consumer["group"]
        assert meta["addressFromEnv"] == "REDIS_ADDRESS"
        assert env["REDIS_ADDRESS"].rsplit(":", 1)[1].isdigit()  # host:port, not a URL
        thresholds.update({k: v for k, v in meta.items() if k.endswith("Count")})
    # one pod per `concurrency` messages waiting (lag: scales from zero) or running (pending)
    concurrency = str(consumer["concurrency"])
    assert thresholds == {
        "lagCount": concurrency,
        "pendingEntriesCount": concurrency,
        "activationLagCount": "0",
    }
    minimum, maximum = scaled["spec"]["minReplicaCount"], scaled["spec"]["maxReplicaCount"]
    assert 0 <= minimum <= maximum


@pytest.mark.parametrize("package", worker_packages(), ids=lambda p: p.name)
def test_each_worker_has_a_pdb_probes_on_its_health_port_and_time_to_drain(
    rendered: Rendered, package: ServicePackage
) -> None:
    pdb = rendered.named("PodDisruptionBudget", package.name)
    assert pdb["spec"]["selector"]["matchLabels"] == {"app.kubernetes.io/name": package.name}
    pod = rendered.named("Deployment", package.name)["spec"]["template"]["spec"]
    container = rendered.container(package.name)
    env = rendered.environment(container)
    (cls,) = settings_classes(package)
    settings: Any = settings_from(cls, env)
    ports = {port["name"]: port["containerPort"] for port in container["ports"]}
    assert ports["health"] == settings.health_port > 0
    for probe in ("livenessProbe", "readinessProbe"):
        assert container[probe]["httpGet"]["port"] == "health"
    # SIGTERM: in-flight jobs drain for SHUTDOWN_GRACE_SECONDS; a job lease more before SIGKILL
    drain = settings.shutdown_grace_seconds + settings.job_lease_seconds
    assert pod["terminationGracePeriodSeconds"] >= drain
    assert_sized_and_unprivileged(pod, container)


def test_the_api_has_probes_a_service_and_time_to_finish_requests(rendered: Rendered) -> None:
    pod = rendered.named("Deployment", "lumi-api")["spec"]["template"]["spec"]
    container = rendered.container("lumi-api")
    assert container["livenessProbe"]["httpGet"]["path"] == "/api/health/live"
    assert container["readinessProbe"]["httpGet"]["path"] == "/api/health"
    pause = int(container["lifecycle"]["preStop"]["exec"]["command"][-1])
    grace = float(rendered.environment(container)["SHUTDOWN_GRACE_SECONDS"])
    assert pod["terminationGracePeriodSeconds"] >= pause + grace
    service = rendered.named("Service", "lumi-api")
    assert service["spec"]["selector"] == {"app.kubernetes.io/name": "lumi-api"}
    assert_sized_and_unprivileged(pod, container)


def test_the_migration_job_runs_lumi_db_upgrade(rendered: Rendered) -> None:
    job = rendered.named("Job", "lumi-migrate")
    (container,) = job["spec"]["template"]["spec"]["containers"]
    assert container["command"] == ["lumi", "db", "upgrade"]
    assert container["image"].rsplit("/", 1)[-1].startswith("lumi-api:")


def assert_sized_and_unprivileged(pod: dict[str, Any], container: dict[str, Any]) -> None:
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] == 10001
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    resources = container["resources"]
    assert {"cpu", "memory"} <= set(resources["requests"])
    assert "memory" in resources["limits"]


# -- one image per service, at the package's version ---------------------------------------------


def test_the_images_are_the_services_at_their_package_versions(rendered: Rendered) -> None:
    used = {
        container["image"].rsplit("/", 1)[-1]
        for _, pod in rendered.workloads()
        for container in pod["containers"]
    }
    assert used == {package.image for package in service_packages()}


def test_the_production_overlay_changes_site_values_only(base: Rendered) -> None:
    production = Rendered.of("production")
    assert production.config["PUBLIC_BASE_URL"].startswith("https://")
    image = production.named("ScaledObject", "lumi-image-worker")
    assert image["spec"]["minReplicaCount"] >= 1
    assert production.named("Deployment", "lumi-api")["spec"]["replicas"] > 1
    assert production.of_kind("Ingress")
    for doc in production.docs:
        assert doc["metadata"].get("namespace") == "lumi", doc["metadata"]["name"]
    assert len(production.docs) > len(base.docs)

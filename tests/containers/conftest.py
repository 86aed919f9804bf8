"""The container tests: `make test-containers` builds the images (deploy/build-images.sh, from
the local base of deploy/base-image.sh), then runs these with `-m containers`. Plain `pytest`
deselects them (pyproject addopts). They need root podman: with CI=true a missing podman fails
the run, elsewhere the tests are skipped with the reason."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support import backends as b
from tests.support.containers import podman, podman_binary, running_as_root, service_packages

HERE = Path(__file__).parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if HERE in item.path.parents:
            item.add_marker(pytest.mark.containers)


@pytest.fixture(scope="session", autouse=True)
def images_built() -> None:
    problem = None
    if podman_binary() is None:
        problem = "podman is not installed (.ci/run installs it)"
    elif not running_as_root():
        problem = "the container tests run rootful podman: run them as root"
    if problem:
        if b.required():
            pytest.fail(f"CI=true but {problem}")
        pytest.skip(problem)
    missing = [
        p.image
        for p in service_packages()
        if podman("image", "exists", p.image, check=False).returncode != 0
    ]
    assert not missing, f"images not built: {missing} (make test-containers builds them)"

"""The API stays light: what it imports never pulls in the workers' imaging, mesh or HTTP code."""

from __future__ import annotations

import subprocess
import sys

WORKER_ONLY = ("numpy", "PIL", "trimesh", "lumi_common.providers.downloads")


def test_api_and_light_common_modules_import_no_worker_dependency() -> None:
    script = (
        "import sys\n"
        "import lumi_api.app, lumi_common.storage, lumi_common.providers.prompts\n"
        f"print(','.join(m for m in {WORKER_ONLY!r} if m in sys.modules))\n"
    )
    # a fresh interpreter: this test process has imported everything already
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == ""

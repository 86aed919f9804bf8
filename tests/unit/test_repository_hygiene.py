"""No secret is ever committed; documents live in docs/."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SECRET_ASSIGNMENT = re.compile(
    r"(COOKIE_SECRET|cookie_secret)\s*[=:]\s*['\"]?[A-Za-z0-9_\-+/]{16,}", re.MULTILINE
)


def tracked_files() -> list[Path]:
    out = subprocess.run(
        ["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    return [ROOT / line for line in out.splitlines() if line]


def test_no_literal_cookie_secret_is_tracked() -> None:
    offenders = [
        str(path.relative_to(ROOT))
        for path in tracked_files()
        if path.is_file() and SECRET_ASSIGNMENT.search(path.read_text(errors="ignore"))
    ]
    assert offenders == []


def test_only_the_readme_is_a_document_at_the_root() -> None:
    documents = [p.name for p in ROOT.iterdir() if p.suffix.lower() in {".md", ".rst", ".txt"}]
    assert documents == ["README.md"]

"""`lumi completion bash|zsh`: the scripts load in their shells and complete commands, actions
and stream names. bash and zsh come from apt (.ci/run installs zsh)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from lumi_common.streams.names import JOB_STREAMS
from tests.support.backends import required
from tests.support.processes import script

LUMI = script("lumi")


def shell(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        if required():
            pytest.fail(f"CI=true but {name} is not installed (.ci/run installs it)")
        pytest.skip(f"{name} is not installed")
    return path


def bash_completions(words: list[str]) -> list[str]:
    """What bash offers after `words` (the last one being completed), as at a prompt."""
    line = " ".join(words)
    program = f"""
source <({LUMI} completion bash)
COMP_WORDS=({" ".join(repr(word) for word in words)})
COMP_CWORD={len(words) - 1}
COMP_LINE={line!r}
COMP_POINT={len(line)}
complete -p lumi >&2
_shtab_lumi
printf '%s\\n' "${{COMPREPLY[@]}}"
"""
    result = subprocess.run(
        [shell("bash"), "-c", program], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stderr.strip() == "complete -o bashdefault -F _shtab_lumi lumi"
    return result.stdout.split()


@pytest.mark.parametrize(
    ("words", "expected"),
    [
        (
            ["lumi", ""],
            ["calls", "completion", "db", "dev", "dlq", "doctor", "relay", "streams", "token"],
        ),
        (["lumi", "dl"], ["dlq"]),
        (["lumi", "dlq", ""], ["list", "purge", "replay", "show"]),
        (
            ["lumi", "dlq", "replay", "--stream", ""],
            sorted(s.removesuffix("-jobs") for s in JOB_STREAMS),
        ),
        (["lumi", "dlq", "replay", "--a"], ["--all"]),
        (["lumi", "completion", ""], ["bash", "zsh"]),
    ],
)
def test_bash_completes(words: list[str], expected: list[str]) -> None:
    assert sorted(bash_completions(words)) == expected


def test_zsh_registers_the_completion_function(tmp_path: Path) -> None:
    program = f"""
autoload -Uz compinit && compinit -u -d {tmp_path / "zcompdump"}
eval "$({LUMI} completion zsh)"
print -r -- $_comps[lumi]
"""
    result = subprocess.run(
        [shell("zsh"), "-f", "-c", program], capture_output=True, text=True, timeout=60
    )
    assert (result.returncode, result.stdout.strip()) == (0, "_shtab_lumi"), result.stderr


def test_zsh_loads_it_from_fpath(tmp_path: Path) -> None:
    script_text = subprocess.run(
        [LUMI, "completion", "zsh"], capture_output=True, text=True, check=True
    ).stdout
    assert script_text.startswith("#compdef lumi\n")
    folder = tmp_path / "functions"
    folder.mkdir()
    (folder / "_lumi").write_text(script_text)
    program = f"""
fpath=({folder} $fpath)
autoload -Uz compinit && compinit -u -d {tmp_path / "zcompdump"}
print -r -- $_comps[lumi]
"""
    result = subprocess.run(
        [shell("zsh"), "-f", "-c", program], capture_output=True, text=True, timeout=60
    )
    assert (result.returncode, result.stdout.strip()) == (0, "_lumi"), result.stderr

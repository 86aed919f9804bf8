"""`lumi completion bash|zsh`: a shell completion script, generated from the parser (shtab).

    source <(lumi completion bash)                      # this shell; or save it under
                                                        # /etc/bash_completion.d/lumi
    lumi completion zsh > "${fpath[1]}/_lumi"           # zsh, then a new shell

shtab writes static scripts (no Python runs on each TAB, unlike argcomplete); `--stream`
completes the stream names.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from typing import Any

SHELLS = ("bash", "zsh")


def register(commands: Any) -> None:
    parser: argparse.ArgumentParser = commands.add_parser(
        "completion", help="print the shell completion script (bash or zsh)"
    )
    parser.add_argument("shell", choices=SHELLS)
    parser.set_defaults(run=_completion)


def script(shell: str) -> str:
    import shtab

    from lumi_api.cli.context import STREAMS
    from lumi_api.cli.main import build_parser

    parser = build_parser()
    streams = shtab.cmd(f"echo {' '.join(STREAMS)}")
    for action in _actions(parser):
        if "--stream" in action.option_strings:
            action.complete = streams  # type: ignore[attr-defined]  # shtab's documented hook
    return str(shtab.complete(parser, shell=shell))


def _actions(parser: argparse.ArgumentParser) -> Iterator[argparse.Action]:
    for action in parser._actions:
        yield action
        if isinstance(action, argparse._SubParsersAction):
            for child in action.choices.values():
                yield from _actions(child)


def _completion(args: argparse.Namespace) -> int:
    sys.stdout.write(script(args.shell))
    return 0

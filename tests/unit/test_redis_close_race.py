"""redis-py's transport close race (redis-py#4287) is a ConnectionError to our loops; an
AttributeError of our own keeps its type."""

from __future__ import annotations

import os
from collections.abc import Callable

import pytest

from lumi_common.redis_client import closed_while_writing

CONNECTION = os.path.join("site-packages", "redis", "asyncio", "connection.py")
STREAMS = os.path.join("lib", "python3.11", "asyncio", "streams.py")
OURS = os.path.join("lumi_common", "streams", "reader.py")
# each frame calls the next; the innermost raises what the race raises
SOURCE = (
    "def call(inner):\n"
    "    if inner is None:\n"
    "        raise AttributeError(\"'NoneType' object has no attribute 'writelines'\")\n"
    "    inner()\n"
)


def raised_in(*files: str) -> BaseException:
    """The AttributeError of frames named `files`, outermost first."""
    chain: Callable[[], None] | None = None
    for filename in reversed(files):
        namespace: dict[str, Callable[..., None]] = {}
        exec(compile(SOURCE, filename, "exec"), namespace)
        chain = (lambda call, inner: lambda: call(inner))(namespace["call"], chain)
    assert chain is not None
    with pytest.raises(AttributeError) as caught:
        chain()
    return caught.value


def test_a_close_race_inside_redis_connection_is_a_connection_error() -> None:
    assert closed_while_writing(raised_in(OURS, CONNECTION))


def test_a_close_race_in_asyncio_under_redis_connection_is_a_connection_error() -> None:
    assert closed_while_writing(raised_in(OURS, CONNECTION, STREAMS))


def test_our_own_attribute_error_keeps_its_type() -> None:
    assert not closed_while_writing(raised_in(CONNECTION, OURS))
    assert not closed_while_writing(raised_in(OURS))
    assert not closed_while_writing(AttributeError("never raised"))

"""A TCP proxy in front of the real MariaDB that a test controls: it can stop forwarding (a hung
server: connections stay open, nothing is answered) or cut one connection at a chosen moment of
its transaction, killing the server's side of it with `KILL <id>` from another connection.

It runs in the test's event loop. The MySQL protocol is read only as far as needed: the server's
first packet (the handshake) carries the connection id; a client packet whose command byte is
COM_QUERY (3) carries the statement text.
"""

from __future__ import annotations

import asyncio
import contextlib
import struct
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest
from sqlalchemy.engine import make_url

from tests.support.backends import mysql_admin, mysql_server_url

COM_QUERY = 3
READ_SIZE = 65536


@dataclass
class _Cut:
    """Cut the next connection that sends a statement starting with `statement`: before it
    reaches the server (`after_reply=False`: the transaction rolls back), or once the server has
    answered it (`after_reply=True`: for COMMIT, the change is made and the client never hears)."""

    statement: bytes
    after_reply: bool
    done: asyncio.Event = field(default_factory=asyncio.Event)


class MysqlProxy:
    def __init__(self, server_url: str) -> None:
        parsed = make_url(server_url)
        self.server_url = server_url
        self.upstream = (parsed.host or "127.0.0.1", parsed.port or 3306)
        self.port = 0
        self._flowing = asyncio.Event()
        self._flowing.set()
        self._cut: _Cut | None = None
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._writers: set[asyncio.StreamWriter] = set()

    def url_for(self, database_url: str) -> str:
        """`database_url` (same database and user) through this proxy."""
        through = make_url(database_url).set(host="127.0.0.1", port=self.port)
        return through.render_as_string(hide_password=False)

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def close(self) -> None:
        self._flowing.set()
        if self._server is not None:
            self._server.close()
        for writer in list(self._writers):
            writer.close()  # each pump then reads its end, and its connection's task ends
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def hang(self) -> None:
        """Stop forwarding in both directions; connections stay open (SIGSTOP, as seen from
        the client). New connections are accepted and hang too."""
        self._flowing.clear()

    def release(self) -> None:
        self._flowing.set()

    def cut(self, statement: str, *, after_reply: bool) -> asyncio.Event:
        """Arm a cut (see `_Cut`); the event is set once it happened."""
        self._cut = _Cut(statement.encode().upper(), after_reply)
        return self._cut.done

    async def _serve(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            server_r, server_w = await asyncio.open_connection(*self.upstream)
        except OSError:
            client_w.close()
            self._tasks.discard(task)
            return
        self._writers.update((client_w, server_w))
        try:
            thread_id = await self._handshake(server_r, client_w)
            link = _Link(client_r, client_w, server_r, server_w, thread_id)
            await asyncio.gather(self._upstream(link), self._downstream(link))
        except (OSError, asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            for writer in (client_w, server_w):
                writer.close()
                self._writers.discard(writer)
            self._tasks.discard(task)

    async def _handshake(
        self, server_r: asyncio.StreamReader, client_w: asyncio.StreamWriter
    ) -> int:
        await self._flowing.wait()
        header = await server_r.readexactly(4)
        length = int.from_bytes(header[:3], "little")
        body = await server_r.readexactly(length)
        # protocol version (1 byte), server version (NUL-terminated), connection id (4 bytes)
        version_end = body.index(b"\0", 1)
        (thread_id,) = struct.unpack("<I", body[version_end + 1 : version_end + 5])
        client_w.write(header + body)
        await client_w.drain()
        return int(thread_id)

    async def _upstream(self, link: _Link) -> None:
        while data := await link.client_r.read(READ_SIZE):
            await self._flowing.wait()
            cut = self._cut
            if cut is not None and _is_query(data, cut.statement):
                self._cut = None
                await self._do_cut(link, data, cut)
                return
            link.server_w.write(data)
            await link.server_w.drain()
        link.server_w.close()

    async def _downstream(self, link: _Link) -> None:
        while data := await link.server_r.read(READ_SIZE):
            await self._flowing.wait()
            if link.cut:
                link.answered.set()
                return
            link.client_w.write(data)
            await link.client_w.drain()
        link.client_w.close()

    async def _do_cut(self, link: _Link, data: bytes, cut: _Cut) -> None:
        link.cut = True
        if cut.after_reply:
            link.server_w.write(data)
            await link.server_w.drain()
            # the downstream pump drops the server's answer: once it came, the statement is done
            await asyncio.wait_for(link.answered.wait(), 10)
        await mysql_admin(self.server_url, f"KILL {link.thread_id}")
        link.client_w.close()
        cut.done.set()


@dataclass
class _Link:
    client_r: asyncio.StreamReader
    client_w: asyncio.StreamWriter
    server_r: asyncio.StreamReader
    server_w: asyncio.StreamWriter
    thread_id: int
    cut: bool = False
    answered: asyncio.Event = field(default_factory=asyncio.Event)


def _is_query(data: bytes, statement: bytes) -> bool:
    command, text = data[4:5], data[5:]
    return command == bytes([COM_QUERY]) and text.lstrip().upper().startswith(statement)


@contextlib.asynccontextmanager
async def mysql_proxy(server_url: str) -> AsyncIterator[MysqlProxy]:
    proxy = MysqlProxy(server_url)
    await proxy.start()
    try:
        yield proxy
    finally:
        await proxy.close()


@contextlib.asynccontextmanager
async def database_proxy(database_url: str) -> AsyncIterator[MysqlProxy]:
    """A proxy in front of the MariaDB server of the test's database (reach that database through
    it with `proxy.url_for(database_url)`); on SQLite the test is skipped."""
    if not database_url.startswith("mysql"):
        pytest.skip("hangs or cuts MariaDB connections")
    async with mysql_proxy(mysql_server_url()) as proxy:
        yield proxy

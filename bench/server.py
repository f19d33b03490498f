"""The benchmarks' fallback server, for machines without nginx: asyncio, HTTP/1.1, keep-alive.

Answers every GET with the same small JSON body and logs `<connection serial> <path>` per
request, as the nginx configuration in `bench.run` does, so connections can be counted.
It runs in its own process, so it does not compete with the clients for the GIL; `bench.run`
prints the CPU it used in each scenario to show that it is not the bottleneck.

    python -m bench.server PORT LOG
"""

from __future__ import annotations

import asyncio
import itertools
import sys
from typing import IO

BODY = b'{"id": 1, "name": "item", "tags": ["a", "b"], "active": true}'
RESPONSE = (
    b'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n'
    b'Connection: keep-alive\r\n\r\n' % len(BODY)
) + BODY
SERIALS = itertools.count(1)


class Log:
    """An access log written once per event-loop pass, not once per request."""

    def __init__(self, file: IO[str], loop: asyncio.AbstractEventLoop) -> None:
        self.file = file
        self.loop = loop
        self.lines: list[str] = []

    def add(self, line: str) -> None:
        if not self.lines:
            self.loop.call_soon(self.flush)
        self.lines.append(line)

    def flush(self) -> None:
        self.file.write(''.join(self.lines))
        self.file.flush()
        self.lines.clear()


class Protocol(asyncio.Protocol):
    """One connection: answer each complete request head (bodies are read and dropped)."""

    def __init__(self, log: Log) -> None:
        self.log = log
        self.serial = next(SERIALS)
        self.buffer = b''
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        replies = []
        while (end := self.buffer.find(b'\r\n\r\n')) >= 0:
            head = self.buffer[:end].decode('latin-1')
            length = 0
            for line in head.split('\r\n')[1:]:
                name, _, value = line.partition(':')
                if name.strip().lower() == 'content-length':
                    length = int(value)
            if len(self.buffer) < end + 4 + length:
                break
            self.buffer = self.buffer[end + 4 + length:]
            path = head.split(' ', 2)[1]
            self.log.add(f'{self.serial} {path}\n')
            replies.append(RESPONSE)
        if replies and self.transport is not None:
            self.transport.write(b''.join(replies))


async def serve(port: int, file: IO[str]) -> None:
    """Serve on 127.0.0.1:`port` until killed, logging to `file`."""
    loop = asyncio.get_running_loop()
    log = Log(file, loop)
    server = await loop.create_server(lambda: Protocol(log), '127.0.0.1', port, backlog=1024)
    async with server:
        await server.serve_forever()


if __name__ == '__main__':
    with open(sys.argv[2], 'a') as log_file:
        asyncio.run(serve(int(sys.argv[1]), log_file))

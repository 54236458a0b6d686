"""HTTP/1.1 requests written byte by byte, for inputs a well-behaved client refuses to send.

``raw_request(port, method, target, headers, body)`` writes the request line and the
headers exactly as given (repeated headers, absolute-form targets, control characters,
16 KB request lines), sends ``Connection: close`` and reads until the server closes.
It returns a ``RawReply`` with the status, the lower-cased headers (the last value of a
repeated header) and the body. ``http.client`` validates what it sends; this does not.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass


@dataclass
class RawReply:
    status: int
    headers: dict[str, str]
    body: bytes

    @property
    def x_cache(self) -> str:
        return self.headers.get("x-cache", "")

    def __repr__(self) -> str:  # assertion messages: never the whole body
        return f"<RawReply {self.status} {self.x_cache or '-'} {self.body[:80]!r}>"


def raw_request(
    port: int,
    method: str,
    target: str,
    headers: list[tuple[str, str]] | None = None,
    body: bytes = b"",
    timeout: float = 10.0,
) -> RawReply:
    given = headers if headers is not None else [("Host", f"127.0.0.1:{port}")]
    lines = [f"{method} {target} HTTP/1.1", *(f"{name}: {value}" for name, value in given)]
    if body:
        lines.append(f"Content-Length: {len(body)}")
    lines.append("Connection: close")
    payload = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        try:
            sock.sendall(payload)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server may answer and close before reading everything
        chunks = []
        while True:
            try:
                chunk = sock.recv(65536)
            except ConnectionResetError:
                break
            if not chunk:
                break
            chunks.append(chunk)
    return parse(b"".join(chunks))


def parse(raw: bytes) -> RawReply:
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1]) if lines and len(lines[0].split()) > 1 else 0
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    if headers.get("transfer-encoding", "").lower() == "chunked":
        body = _dechunk(body)
    return RawReply(status, headers, body)


def _dechunk(data: bytes) -> bytes:
    out = b""
    while data:
        size_line, _, rest = data.partition(b"\r\n")
        size = int(size_line.split(b";")[0] or b"0", 16)
        if size == 0:
            break
        out += rest[:size]
        data = rest[size + 2 :]
    return out

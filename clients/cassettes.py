"""Cassettes: real traffic recorded to a file once, replayed offline after.

A `Cassette` serves the requests a `clients.testing.Mock` has no route for. Recording, each
request goes to the real server through the transport the client would have used, and its
response is handed to the client as it arrives (so a stream or an event stream is recorded
as far as the client reads it, and never waits for its end); the interaction is kept when
the response is closed. Replaying, each request gets the first recorded answer to the same
method and URL not given yet, through the same response machinery as the mock's routes.

The file is vcrpy's YAML cassette format (version 1): `interactions`, each a `request`
(`method`, `uri`, `headers`, `body`) and a `response` (`status` with `code` and `message`,
`headers`, `body` with `string`); bodies are kept as they came on the wire (still
compressed, if they were). Credentials are redacted (`***`) before anything is written: the
`Authorization`, `Cookie`, `Proxy-Authorization` and `Set-Cookie` values and every header
whose name says it is secret, secret query parameters (`clients.urls.redact`'s rules), a
URL's password, and secret fields (`access_token`, `client_secret`, `password`, ...) of JSON
and form bodies (a compressed one is stored decoded); and every value found in those places is
replaced wherever else it appears in the cassette (a body that echoes a header, a token sent
back as `Authorization`). The file is written once, when the mock stops, to a new file of mode 0600
renamed into place; it is never read or written through a symbolic link.

Modes: 'once' replays the file if it exists, else records it; 'record' records (replacing
the file); 'replay' only replays.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import AsyncIterator, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import requests

from . import content, downloads, urls
from .library import httpx
from .testing import Answer, NoRoute, async_response, sync_response

MODES = ('once', 'record', 'replay')
REDACTED = '***'
# Header names whose values are credentials, beside any whose name holds a `urls.SECRET_WORDS` word.
SECRET_HEADERS = frozenset({'authorization', 'cookie', 'proxy-authorization', 'set-cookie'})
# Body fields whose values are credentials: OAuth2's tokens, secrets and assertions, passwords, API keys.
SECRET_FIELD = re.compile(r'(?:^|[_-])(?:token|secret|password|passwd|api_?key|assertion|code_verifier)$',
                          re.IGNORECASE)
_FORM = 'application/x-www-form-urlencoded'
# Shorter credentials are not searched for in the rest of a cassette (they would match everywhere).
MIN_SECRET = 4


def _yaml() -> Any:
    try:
        import yaml
    except ImportError:  # pragma: no cover (the test extra installs PyYAML)
        raise ImportError("cassettes need PyYAML: pip install 'clients[testing]'") from None
    return yaml


def secret_header(name: str) -> bool:
    """Return whether a header of this name carries a credential."""
    lowered = name.lower()
    return lowered in SECRET_HEADERS or any(word in lowered for word in urls.SECRET_WORDS)


def redact_header(name: str, value: str) -> str:
    """Return a header's value with its credential redacted (a `Set-Cookie` keeps its name and attributes)."""
    if not secret_header(name):
        return value
    if name.lower() == 'set-cookie':
        cookie, semicolon, attributes = value.partition(';')
        return f'{cookie.partition("=")[0]}={REDACTED}{semicolon}{attributes}'
    return REDACTED


def _fields(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: REDACTED if isinstance(key, str) and SECRET_FIELD.search(key) else _fields(item)
                for key, item in value.items()}
    if isinstance(value, list):
        return [_fields(item) for item in value]
    return value


def redact_body(body: bytes, content_type: str | None) -> bytes:
    """Return a JSON or form body with the values of its secret fields redacted; other bodies as they are."""
    kind = content.kind(content_type)
    try:
        if kind == 'json':
            return json.dumps(_fields(json.loads(body))).encode()
        if content.parse(content_type)[0] == _FORM:
            pairs = parse_qsl(body.decode('ascii'), keep_blank_values=True, strict_parsing=bool(body))
            return urlencode([(name, REDACTED if SECRET_FIELD.search(name) else value)
                              for name, value in pairs]).encode()
    except ValueError:  # not what it says it is: nothing is known about its fields, so none is kept
        return REDACTED.encode()
    return body


def _decoded(body: bytes, headers: list[tuple[str, str]]) -> tuple[bytes, list[tuple[str, str]]]:
    """Undo the content-encodings of a JSON or form body (so that it can be redacted)."""
    encoding = _header(headers, 'Content-Encoding')
    kind = _header(headers, 'Content-Type')
    if not encoding or (content.kind(kind) != 'json' and content.parse(kind)[0] != _FORM):
        return body, headers
    applied = content.undone(content.encodings(encoding))
    body = b''.join(content.Decompressor(applied).feed(body)) if applied else body
    return body, [(name, value) for name, value in headers if name.lower() != 'content-encoding']


def _header(headers: Iterable[tuple[str, str]], name: str) -> str | None:
    return next((value for key, value in headers if key.lower() == name.lower()), None)


def _key(method: str, uri: str) -> tuple[Any, ...]:
    parts = urlsplit(uri)
    return (method.upper(), parts.scheme, parts.hostname, parts.port, parts.path,
            sorted(parse_qsl(parts.query, keep_blank_values=True)))


@dataclass
class Interaction:
    """One request and the response it got."""

    method: str
    uri: str
    headers: list[tuple[str, str]]
    body: bytes
    status: int = 0
    reason: str = ''
    response_headers: list[tuple[str, str]] = field(default_factory=list)
    chunks: list[bytes] = field(default_factory=list)
    played: bool = False

    def secrets(self) -> set[str]:
        """Return the credentials this interaction carries: in secret headers, query parameters and fields."""
        found: set[str] = set()
        for name, value in (*self.headers, *self.response_headers):
            if name.lower() == 'cookie':
                found.update(part.partition('=')[2].strip() for part in value.split(';'))
            elif name.lower() == 'set-cookie':
                found.add(value.partition(';')[0].partition('=')[2].strip())
            elif secret_header(name):
                found.update((value.strip(), value.partition(' ')[2].strip()))
        for name, value in parse_qsl(urlsplit(self.uri).query, keep_blank_values=True):
            if urls.redact(f'?{name}=x') != f'?{name}=x':
                found.add(value)
        password = urlsplit(self.uri).password
        if password:
            found.add(password)
        for headers, body in ((self.headers, self.body), _decoded(b''.join(self.chunks), self.response_headers)[::-1]):
            found.update(_field_values(body, _header(headers, 'Content-Type')))
        return {secret for secret in found if len(secret) >= MIN_SECRET}

    def redacted(self, secrets: Iterable[str] = ()) -> dict[str, Any]:
        """Return the interaction in vcrpy's format, its credentials (and `secrets`, wherever they are) redacted."""
        secrets = sorted(set(secrets) | self.secrets(), key=len, reverse=True)
        body, headers = _decoded(b''.join(self.chunks), self.response_headers)
        body = _scrub(redact_body(body, _header(headers, 'Content-Type')), secrets)
        headers = [(name, _scrub_text(value, secrets)) for name, value in headers]
        if _header(headers, 'Content-Length') is not None:
            headers = [(name, str(len(body)) if name.lower() == 'content-length' else value)
                       for name, value in headers]
        request_body = _scrub(redact_body(self.body, _header(self.headers, 'Content-Type')), secrets)
        request_headers = [(name, _scrub_text(value, secrets)) for name, value in self.headers]
        return {
            'request': {'method': self.method, 'uri': _scrub_text(urls.redact(self.uri), secrets),
                        'headers': _grouped(request_headers),
                        'body': _text(request_body) if request_body else None},
            'response': {'status': {'code': self.status, 'message': self.reason}, 'headers': _grouped(headers),
                         'body': {'string': _text(body)}},
        }

    @classmethod
    def load(cls, data: Any) -> Interaction:
        """Read an interaction of vcrpy's format."""
        try:
            request, response = data['request'], data['response']
            return cls(
                str(request['method']), str(request['uri']), _pairs(request.get('headers')),
                _bytes(request.get('body')), int(response['status']['code']),
                str(response['status'].get('message') or ''), _pairs(response.get('headers')),
                [_bytes((response.get('body') or {}).get('string'))],
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise ValueError(f'not an interaction of a cassette: {exc!r}') from None

    def answer(self) -> Answer:
        """The recorded response, as a mock answer."""
        return Answer(self.status, tuple(self.response_headers), tuple(self.chunks))


def _field_values(body: bytes, content_type: str | None) -> set[str]:
    """Return the values of the secret fields of a JSON or form body."""
    found: set[str] = set()

    def walk(value: Any) -> None:
        if isinstance(value, dict):
            for key, item in value.items():
                if isinstance(key, str) and SECRET_FIELD.search(key) and isinstance(item, str):
                    found.add(item)
                else:
                    walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)

    try:
        if content.kind(content_type) == 'json':
            walk(json.loads(body))
        elif content.parse(content_type)[0] == _FORM:
            found.update(value for name, value in parse_qsl(body.decode('ascii')) if SECRET_FIELD.search(name))
    except ValueError:
        pass
    return found


def _scrub(body: bytes, secrets: Iterable[str]) -> bytes:
    for secret in secrets:
        body = body.replace(secret.encode(), REDACTED.encode())
    return body


def _scrub_text(text: str, secrets: Iterable[str]) -> str:
    for secret in secrets:
        text = text.replace(secret, REDACTED)
    return text


def _grouped(pairs: Iterable[tuple[str, str]]) -> dict[str, list[str]]:
    grouped: dict[str, list[str]] = {}
    for name, value in pairs:
        grouped.setdefault(name, []).append(redact_header(name, value))
    return grouped


def _pairs(headers: Any) -> list[tuple[str, str]]:
    return [(str(name), str(value)) for name, values in (headers or {}).items()
            for value in (values if isinstance(values, list) else [values])]


def _text(body: bytes) -> str | bytes:
    try:
        return body.decode()
    except UnicodeDecodeError:
        return body


def _bytes(body: Any) -> bytes:
    if body is None:
        return b''
    return body.encode() if isinstance(body, str) else bytes(body)


class Cassette:
    """Recorded interactions: replayed from `path`, or recorded from the real servers and saved there.

    Args:
        path: the cassette file
        mode: 'once' (replay the file if it exists, else record), 'record' or 'replay'
    """

    def __init__(self, path: str | os.PathLike[str], mode: str = 'once') -> None:
        if mode not in MODES:
            raise ValueError(f'cassette mode must be one of {", ".join(MODES)}, not {mode!r}')
        self.path = os.fspath(path)
        self.interactions: list[Interaction] = []
        exists = os.path.lexists(self.path)
        self.recording = mode == 'record' or (mode == 'once' and not exists)
        if not self.recording:
            self.interactions = self._load()

    def _load(self) -> list[Interaction]:
        handle = downloads._owned(self.path, os.O_RDONLY)
        with os.fdopen(handle, 'rb') as file:
            data = _yaml().safe_load(file)
        if not isinstance(data, dict) or not isinstance(data.get('interactions'), list):
            raise ValueError(f'{self.path} is not a cassette: it has no list of interactions')
        return [Interaction.load(item) for item in data['interactions']]

    def save(self) -> None:
        """Write the recorded interactions, redacted, to `path` (nothing when replaying)."""
        if not self.recording:
            return
        secrets = set().union(*(each.secrets() for each in self.interactions))
        text = _yaml().safe_dump({'interactions': [each.redacted(secrets) for each in self.interactions],
                                  'version': 1},
                                 sort_keys=False, allow_unicode=True)
        directory = os.path.dirname(os.path.abspath(self.path))
        os.makedirs(directory, mode=0o700, exist_ok=True)
        file, name = downloads.temporary(directory, f'.{os.path.basename(self.path)}.')
        try:
            with file:
                file.write(text.encode())
                file.flush()
                os.fsync(file.fileno())
            os.replace(name, self.path)  # (replaces a link at `path`, never what it points to)
        except BaseException:
            os.remove(name)
            raise

    def played(self, method: str, url: str) -> Interaction:
        """Return the first recorded interaction for `method url` not yet played, and mark it played."""
        key = _key(method, urls.redact(url))
        for each in self.interactions:
            if not each.played and _key(each.method, each.uri) == key:
                each.played = True
                return each
        listing = '\n'.join(f'  {each.method} {each.uri}{" (played)" if each.played else ""}'
                            for each in self.interactions) or '  (none)'
        raise NoRoute(f'clients.testing: {method} {urls.redact(url)} is not in the cassette {self.path} '
                      f'(delete it to record again); it holds:\n{listing}')

    def _begin(self, method: str, url: str, headers: Iterable[tuple[str, str]], body: bytes) -> Interaction:
        entry = Interaction(method, url, list(headers), body)
        self.interactions.append(entry)
        return entry

    def sync(self, adapter: Any, request: requests.PreparedRequest, body: bytes,
             options: dict[str, Any]) -> requests.Response:
        """Answer a sync request: from the cassette, or from the real server through `adapter.real`."""
        if not self.recording:
            found = self.played(str(request.method), str(request.url)).answer()
            return sync_response(adapter, request, found.status, found.headers, found.chunks)
        entry = self._begin(str(request.method), str(request.url), request.headers.items(), body)
        options['stream'] = True
        real = adapter.real.send(request, **options)
        raw = real.raw
        entry.status, entry.reason = real.status_code, real.reason or ''
        entry.response_headers = list(raw.headers.items())

        def chunks() -> Iterator[bytes]:
            while data := raw.read1(content.CHUNK_SIZE, decode_content=False):
                entry.chunks.append(data)
                yield data

        return sync_response(adapter, request, entry.status, entry.response_headers, chunks(), reason=entry.reason,
                             done=real.close)

    async def asynchronous(self, transport: Any, request: httpx.Request, real: Any) -> httpx.Response:
        """Answer an async request: from the cassette, or from the real server through `real`."""
        if not self.recording:
            return async_response(request, self.played(request.method, str(request.url)).answer())
        entry = self._begin(request.method, str(request.url), request.headers.multi_items(), request.content)
        response: httpx.Response = await real(transport, request)
        entry.status, entry.reason = response.status_code, response.reason_phrase
        entry.response_headers = response.headers.multi_items()
        response.stream = _Tee(response.stream, entry)
        return response


class _Tee(httpx.AsyncByteStream):
    """A real response body handed to the client as it arrives, and kept for the cassette."""

    def __init__(self, stream: Any, entry: Interaction) -> None:
        self.stream, self.entry = stream, entry

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self.stream:
            self.entry.chunks.append(chunk)
            yield chunk

    async def aclose(self) -> None:
        await self.stream.aclose()

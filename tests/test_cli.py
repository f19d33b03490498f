"""The command line: the real command against a local server, as a subprocess (exit codes,
output, pipes) and in-process (`cli.main(argv, stdout, stderr)`, for coverage)."""

from __future__ import annotations

import _thread
import collections
import configparser
import contextlib
import dataclasses
import datetime
import importlib
import io
import json
import os
import re
import runpy
import shlex
import signal
import socket
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
import requests
import urllib3
from hypothesis import given
from hypothesis import strategies as st

from clients import __version__, cli, demo
from tests.server import Handler, Server, blob, route
from tests.test_demo import check_tour

ROOT = Path(__file__).parent.parent
TIMEOUT = 60  # seconds any one subprocess may take
ANSI = re.compile(r'\x1b\[[0-9;]*[A-Za-z]')


# --- routes of this module's own on the test server -------------------------------------


@route('/cli/pages')
def paged(handler: Handler) -> None:
    """/cli/pages/<n>?last=3: page n is [10n+1, 10n+2], linked to the next one (relative link).

    `loop=1` makes the last page link back to page 1; `next=URL` makes page 1 link there.
    """
    number = int(handler.path.split('?')[0].rsplit('/', 1)[-1])
    last = int(handler.query.get('last', 3))
    query = handler.path.partition('?')[2]
    links = [f'</cli/pages/1?{query}>; rel="first"']
    if 'next' in handler.query:
        links.append(f'<{handler.query["next"]}>; rel="next"')
    elif number < last:
        links.append(f'<{number + 1}?{query}>; title="a, b"; rel="next"')
    elif handler.query.get('loop'):
        links.append(f'</cli/pages/1?{query}>; rel=next')
    handler.send_json(200, [10 * number + 1, 10 * number + 2], Link=', '.join(links))


@route('/cli/attachment')
def attachment(handler: Handler) -> None:
    """A body with the Content-Disposition given as `disposition`."""
    handler.send(200, b'attached', 'application/octet-stream', Content_Disposition=handler.query['disposition'])


@route('/cli/text')
def text(handler: Handler) -> None:
    """The text `body` as text/plain."""
    handler.send(200, handler.query['body'].encode(), 'text/plain; charset=utf-8')


# Routes for clients that leave half-way: the connection is closed after the answer, and a
# client gone meanwhile is no error, so the server prints no traceback.


@route('/cli/abandoned')
def abandoned(handler: Handler) -> None:
    """/cli/abandoned/<n>: like /bytes/<n>."""
    handler.close_connection = True
    with contextlib.suppress(ConnectionError):
        blob(handler)


@route('/cli/late')
def late(handler: Handler) -> None:
    """NDJSON that comes late: `before` seconds before the headers, `between` before a second line."""
    handler.close_connection = True
    with contextlib.suppress(ConnectionError):
        time.sleep(float(handler.query.get('before', 0)))
        handler.send_response(200)
        handler.send_header('Content-Type', 'application/x-ndjson')
        handler.send_header('Content-Length', str(len(b'{"a": 1}\n{"b": 2}\n')))
        handler.end_headers()
        handler.wfile.write(b'{"a": 1}\n')
        handler.wfile.flush()
        time.sleep(float(handler.query.get('between', 0)))
        handler.wfile.write(b'{"b": 2}\n')


@route('/cli/broken-json')
def broken_json(handler: Handler) -> None:
    """A body that is not JSON, labelled as JSON."""
    handler.send(200, b'{not json', 'application/json')


# --- helpers -----------------------------------------------------------------------------


class Stream(io.TextIOWrapper):
    """A text stream over bytes, a terminal or not, whose contents can be read back."""

    def __init__(self, tty: bool = False) -> None:
        super().__init__(io.BytesIO(), encoding='utf-8', newline='')
        self.tty = tty

    def isatty(self) -> bool:
        return self.tty

    def bytes(self) -> bytes:
        self.flush()
        return self.buffer.getvalue()  # type: ignore[attr-defined,no-any-return]

    def text(self) -> str:
        return self.bytes().decode()


@dataclasses.dataclass
class Result:
    code: int
    stdout: Stream
    stderr: Stream

    @property
    def out(self) -> str:
        return self.stdout.text()

    @property
    def err(self) -> str:
        return self.stderr.text()


def cli_main(*argv: str, tty: bool = False, tty_err: bool = False) -> Result:
    """Run the command line in this process with fake standard streams."""
    stdout, stderr = Stream(tty), Stream(tty_err)
    code = cli.main(list(argv), stdout, stderr)
    return Result(code, stdout, stderr)


def run(*argv: str, **kwargs: Any) -> subprocess.CompletedProcess[str]:
    """Run `python -m clients ARGV` as a real process, output piped."""
    command = [sys.executable, '-m', 'clients', *argv]
    return subprocess.run(command, capture_output=True, text=True, timeout=TIMEOUT, check=False, **kwargs)


def one_line_error(stderr: str) -> str:
    """Assert that stderr is one line naming the command, and return it."""
    assert stderr.endswith('\n')
    assert stderr.count('\n') == 1, stderr
    assert stderr.startswith('clients')
    assert 'Traceback' not in stderr
    return stderr


@pytest.fixture(autouse=True)
def plain_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """No colour settings from the environment running the tests."""
    monkeypatch.delenv('NO_COLOR', raising=False)
    monkeypatch.delenv('TERM', raising=False)


# --- the real command, as a subprocess ------------------------------------------------------


def test_navigates_like_a_resource_and_prints_plain_json_when_piped(server: Server) -> None:
    done = run(server.url, 'echo', 'user', 'repos', 'visibility=public')
    assert (done.returncode, done.stderr) == (0, '')
    assert not ANSI.search(done.stdout)
    assert done.stdout.startswith('{\n  "method": "GET",\n')  # indented
    echoed = json.loads(done.stdout)
    assert (echoed['path'], echoed['query']) == ('/echo/user/repos', {'visibility': 'public'})
    assert echoed['headers']['user-agent'] == f'clients/{__version__} (python-requests/{requests.__version__})'


@pytest.mark.parametrize(
    ('argv', 'code', 'message'),
    [
        (['{url}status/404'], 4, r'clients: GET http://127\.0\.0\.1:\d+/status/404 returned 404 Not Found: '
                                 r'status 404 as asked$'),
        (['{url}', 'status', '503'], 5, r'returned 503 Service Unavailable: status 503 as asked '
                                        r'\(after 3 attempts: attempts exhausted\)$'),
        (['http://127.0.0.1:{closed}/', 'x'], 3, r'GET http://127\.0\.0\.1:\d+/x: connection failed: '
                                                 r'Connection refused$'),
        (['--timeout', '0.2', '{url}cli/late', 'before=2'], 6, r'timed out waiting for data; a longer --timeout'),
        (['--timeout', '0.2', '{url}cli/late', 'between=2'], 6, r'/cli/late\?between=2: timed out waiting for data'),
        (['{url}short'], 3, r'/short: the connection ended before the whole body'),
        (['{url}cli/broken-json'], 1, r'invalid JSON'),
        (['api.example.com'], 2, r"base URL must be absolute http\(s\) with a host: 'api\.example\.com'; "
                                 r'did you mean https://api\.example\.com\?$'),
        (['http://exa mple.com/'], 2, r"base URL has white space or a backslash in its host, which URL parsers "
                                      r"read differently: 'http://exa mple\.com/'$"),
        (['--nope', '{url}'], 2, r"unrecognized arguments: --nope \(see 'clients --help'\)$"),
        ([], 2, r"give a URL, 'download URL' or 'demo'"),
    ],
)
def test_exit_codes_and_one_line_errors(server: Server, closed_port: int, argv: list[str], code: int,
                                        message: str) -> None:
    done = run(*(arg.format(url=server.url, closed=closed_port) for arg in argv))
    assert done.returncode == code
    assert done.stdout == ''
    assert re.search(message, one_line_error(done.stderr).rstrip('\n'))


@pytest.fixture(scope='module')
def closed_port() -> int:
    """A local port where nothing listens."""
    with Server() as gone:
        port = gone.server_address[1]
    return int(port)


def test_undecodable_arguments_are_bad_arguments(server: Server) -> None:
    command = [sys.executable.encode(), b'-m', b'clients', server.url.encode(), b'echo', b'q=\xff']
    done = subprocess.run(command, capture_output=True, text=True, timeout=TIMEOUT, check=False)
    assert (done.returncode, done.stdout) == (2, '')
    assert one_line_error(done.stderr) == "clients: argument 'q=\\udcff' is not valid UTF-8 text\n"


def test_stream_prints_each_item_as_it_arrives(fresh: Server) -> None:
    command = [sys.executable, '-m', 'clients', '--stream', fresh.url, 'gate']
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as process:
        assert process.stdout is not None
        first = process.stdout.readline()  # arrives while the server still holds the rest back
        fresh.gate.set()
        rest = process.stdout.read()
        assert process.wait(TIMEOUT) == 0
    assert first == '{"first": true}\n'
    assert [json.loads(line) for line in rest.splitlines()] == [{'gate_opened': True}]


def test_a_closed_pipe_ends_quietly_with_141(server: Server) -> None:
    command = [sys.executable, '-m', 'clients', server.url, 'bytes', str(8 << 20)]
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE) as process:
        assert process.stdout is not None
        assert process.stderr is not None
        assert process.stdout.read(1) == b'\x00'
        process.stdout.close()  # like `| head -c 1`
        assert process.wait(TIMEOUT) == 141
        assert process.stderr.read() == b''


def test_download_in_a_subprocess_saves_the_file_without_a_bar(server: Server, tmp_path: Path) -> None:
    done = run('download', f'{server.url}bytes/100000', cwd=tmp_path)
    assert (done.returncode, done.stdout) == (0, '')
    assert done.stderr == 'Saved 97.7 KiB (100000 bytes) to 100000.bin\n'  # no progress bar: not a terminal
    assert (tmp_path / '100000.bin').read_bytes() == (bytes(range(256)) * 400)[:100000]
    failed = run('download', f'{server.url}short', 'short.bin', cwd=tmp_path)
    assert failed.returncode == 3
    one_line_error(failed.stderr)
    assert sorted(os.listdir(tmp_path)) == ['100000.bin']  # nothing partial, no temporary file


def test_demo_command_runs_the_tour() -> None:
    done = run('demo')
    assert (done.returncode, done.stderr) == (0, '')
    check_tour(done.stdout, 'aiohttp')


def test_console_script_is_declared_and_installed() -> None:
    config = configparser.ConfigParser()
    config.read(ROOT / 'setup.cfg')
    assert config['options.entry_points']['console_scripts'].split() == ['clients', '=', 'clients.cli:main']
    script = Path(sys.executable).parent / 'clients'
    assert script.exists(), "reinstall to get the console script: pip install -e '.[test]'"
    done = subprocess.run([str(script), '--version'], capture_output=True, text=True, timeout=TIMEOUT, check=False)
    assert (done.returncode, done.stdout) == (0, f'clients {__version__}\n')


# --- requests, in-process ----------------------------------------------------------------


def test_fields_make_the_query_and_the_json_body(server: Server) -> None:
    result = cli_main('-X', 'post', f'{server.url}echo?z=1&z=2', 'items', 'name=apple', 'stock:=5',
                      'tags:=["a", "b"]', 'empty=', 'page==2', 'weird=a=b')
    assert (result.code, result.err) == (0, '')
    echoed = json.loads(result.out)
    assert echoed['method'] == 'POST'
    assert (echoed['path'], echoed['query']) == ('/echo/items', {'z': '2', 'page': '2'})
    assert echoed['headers']['content-type'] == 'application/json'
    body = {'name': 'apple', 'stock': 5, 'tags': ['a', 'b'], 'empty': '', 'weird': 'a=b'}
    assert json.loads(echoed['body']) == body


def test_query_parameters_keep_the_url_query_and_may_repeat(server: Server) -> None:
    result = cli_main('-v', f'{server.url}echo?a=1%2B1#fragment', 'tag=x', 'tag==y', '-X', 'DELETE')
    assert result.code == 0
    request_line, host = result.err.splitlines()[:2]
    assert request_line == '> DELETE /echo?a=1%2B1&tag=x&tag=y HTTP/1.1'
    assert host == f'> Host: 127.0.0.1:{server.server_address[1]}'


def test_segments_are_path_segments(server: Server) -> None:
    result = cli_main(server.url, 'echo', 'a?b', 'c#d', 'users:1', 'json', '_private', '-1', '--', '-x')
    assert json.loads(result.out)['path'] == '/echo/a%3Fb/c%23d/users:1/json/_private/-1/-x'


def test_headers_are_set_replaced_and_removed(server: Server) -> None:
    result = cli_main(server.url, 'echo', '-H', 'X-Trace: 1 2', '-H', 'User-Agent: mine', '-H', 'Accept:',
                      '-H', 'X-Latin:caf\xe9')
    headers = json.loads(result.out)['headers']
    assert (headers['x-trace'], headers['user-agent']) == ('1 2', 'mine')
    assert headers['x-latin'] == 'caf\xe9'  # Latin-1, as HTTP/1.1 sends it
    assert 'accept' not in headers


@contextlib.contextmanager
def raw_server(*answers: bytes) -> Any:
    """A server that answers each connection with the next of `answers` and keeps the request heads it read."""
    heads: list[bytes] = []
    with socket.create_server(('127.0.0.1', 0)) as listener:

        def serve() -> None:
            for answer in answers:
                connection, _ = listener.accept()
                with connection:
                    data = b''
                    while b'\r\n\r\n' not in data:
                        data += connection.recv(65536)
                    heads.append(data.partition(b'\r\n\r\n')[0] + b'\r\n\r\n')
                    connection.sendall(answer)

        thread = threading.Thread(target=serve, daemon=True)
        thread.start()
        yield f'http://127.0.0.1:{listener.getsockname()[1]}/', heads
        thread.join(10)


def answer(body: bytes = b'{}', content_type: str = 'application/json', **headers: str) -> bytes:
    """An HTTP/1.1 response that closes the connection."""
    lines = [f'{name.replace("_", "-")}: {value}' for name, value in headers.items()]
    head = '\r\n'.join(['HTTP/1.1 200 OK', f'Content-Type: {content_type}', f'Content-Length: {len(body)}',
                         'Connection: close', *lines])
    return head.encode() + b'\r\n\r\n' + body


def shown_request(err: str) -> bytes:
    """The first request head `-v` wrote, as the bytes it says were sent."""
    lines = [line[2:] for line in err.split('\n\n')[0].splitlines() if line.startswith('> ')]
    return ('\r\n'.join(lines) + '\r\n\r\n').encode('latin-1')


@pytest.mark.parametrize('name', ['User-Agent', 'Accept-Encoding', 'Accept', 'Connection', 'Host', 'X-Never-Set'])
@pytest.mark.parametrize('command', [[], ['download']])
def test_an_empty_header_is_never_sent_and_verbose_shows_the_bytes_sent(name: str, command: list[str],
                                                                        tmp_path: Path) -> None:
    with raw_server(answer()) as (url, heads):
        result = cli_main(*command, '-v', '-H', f'{name}:', '-H', 'X-Kept: caf\xe9', url + 'x',
                          *([str(tmp_path / 'x.json')] if command else ['a==1']))
    assert result.code == 0, result.err
    (head,) = heads
    names = [line.split(b':')[0].lower() for line in head.split(b'\r\n')[1:] if line]
    assert name.lower().encode() not in names
    assert b'x-kept' in names
    assert shown_request(result.err) == head  # exactly what went out: urllib3's additions, Latin-1 and all


def test_verbose_shows_a_body_request_as_sent() -> None:
    with raw_server(answer()) as (url, heads):
        result = cli_main('-v', '-X', 'POST', url + 'x', 'n:=1')
    assert shown_request(result.err) == heads[0]
    assert b'\r\nContent-Length: 8\r\n' in heads[0]


def test_a_removed_cookie_stays_removed_after_a_server_sets_one() -> None:
    redirect = b'HTTP/1.1 302 Found\r\nLocation: /next\r\nSet-Cookie: session=abc; Path=/\r\n' \
               b'Content-Length: 0\r\nConnection: close\r\n\r\n'
    for removed, sent in ((['-H', 'Cookie:'], False), ([], True)):
        with raw_server(redirect, answer()) as (url, heads):
            assert cli_main(*removed, url + 'x').code == 0
        assert (b'Cookie: session=abc' in heads[1]) is sent


def test_credentials_stay_with_their_origin_across_pages(server: Server, other: Server) -> None:
    result = cli_main('--pages', f'{server.url}cli/pages/1', f'next=={other.url}echo', '-H', 'Authorization: Bearer t')
    assert result.code == 0
    first, echoed = [json.loads(part) for part in re.split(r'(?<=\])\n', result.out, maxsplit=1)]
    assert first == [11, 12]
    assert echoed['port'] == other.server_address[1]
    assert 'authorization' not in echoed['headers']
    sent = [headers for _, path, headers in server.requests if path.startswith('/cli/pages/1?next=')]
    assert sent[-1]['Authorization'] == 'Bearer t'  # to its own origin, it was sent


def test_pages_follow_next_links_in_order(server: Server) -> None:
    result = cli_main('--pages', server.url, 'cli', 'pages', '1', 'last=3')
    assert (result.code, result.err) == (0, '')
    assert result.out == '[\n  11,\n  12\n]\n[\n  21,\n  22\n]\n[\n  31,\n  32\n]\n'
    pages = [path for method, path, _ in server.requests if path.startswith('/cli/pages/')]
    assert pages[-3:] == ['/cli/pages/1?last=3', '/cli/pages/2?last=3', '/cli/pages/3?last=3']


def test_a_page_loop_stops_with_an_error(server: Server) -> None:
    result = cli_main('--pages', f'{server.url}cli/pages/1', 'last=2', 'loop=1')
    assert result.code == 1
    assert re.fullmatch(r'clients: page loop: the next page of \S+/cli/pages/2\?last=2&loop=1 is '
                        r'\S+/cli/pages/1\?last=2&loop=1, which was already fetched\n', one_line_error(result.err))
    assert result.out.count('[') == 2  # both pages were printed before the loop was seen


def test_pages_and_stream_work_with_get_only(server: Server) -> None:
    for option in ('--pages', '--stream'):
        result = cli_main(option, '-X', 'POST', server.url)
        assert result.code == 2
        assert one_line_error(result.err) == f'clients: {option} works with GET only, not POST\n'
    result = cli_main('--pages', '--stream', server.url)
    assert result.code == 2
    assert 'not allowed with argument' in one_line_error(result.err)


@pytest.mark.parametrize(
    ('argv', 'message'),
    [
        (['x:=1'], "'x:=1': GET sends no body; use -X POST, or x==1 for a query parameter"),
        (['-X', 'PUT', 'x:=nope'], "'x:=nope': invalid JSON after := (Expecting value: line 1 column 1 (char 0))"),
        (['-X', 'PUT', 'x=1', 'x:=2'], "body field 'x' is given twice"),
        (['=1'], "field '=1' has no name before ="),
        ([':=1'], "field ':=1' has no name before :="),
        (['-X', 'GET /'], "bad method 'GET /': expected a word such as GET or POST"),
        (['-H', 'X-A 1'], "bad header 'X-A 1': expected 'Name: value'"),
        (['-H', ': 1'], "bad header ': 1': expected 'Name: value'"),
        (['-H', 'X-A: 1\r\nX-B: 2'], "bad header 'X-A: 1\\r\\nX-B: 2': a value cannot contain a line break"),
        (['-H', 'X-A: \u4e2d'], "bad header 'X-A: \u4e2d': a value must be Latin-1 text (percent-encode the rest)"),
        (['-H', 'Content-Length:'], 'cannot remove Content-Length: it says where the body ends'),
        (['-H', 'transfer-encoding:'], 'cannot remove transfer-encoding: it says where the body ends'),
        (['q=\udcff'], "argument 'q=\\udcff' is not valid UTF-8 text"),
        (['--timeout', '0'], "argument --timeout: expected a positive number of seconds, not '0'"),
        (['--timeout', 'soon'], "argument --timeout: expected a positive number of seconds, not 'soon'"),
        (['--timeout', 'inf'], "argument --timeout: expected a positive number of seconds, not 'inf'"),
    ],
)
def test_bad_arguments_exit_2_before_sending(server: Server, argv: list[str], message: str) -> None:
    before = len(server.requests)
    result = cli_main(server.url, *argv)
    assert (result.code, result.out) == (2, '')
    assert one_line_error(result.err).startswith(f'clients: {message}')
    assert len(server.requests) == before


def test_head_prints_nothing_and_verbose_shows_both_heads(server: Server) -> None:
    result = cli_main('-X', 'head', '--verbose', f'{server.url}echo')
    assert (result.code, result.out) == (0, '')
    lines = result.err.splitlines()
    assert lines[0] == '> HEAD /echo HTTP/1.1'
    assert f'> User-Agent: clients/{__version__} (python-requests/{requests.__version__})' in lines
    assert '< 200 OK' in lines
    assert '< Content-Type: application/json' in lines


def test_verbose_shows_every_redirect_hop(server: Server) -> None:
    result = cli_main('-v', f'{server.url}redirect', 'to=/echo/there')
    assert result.code == 0
    statuses = [line for line in result.err.splitlines() if re.match(r'< \d{3} ', line)]
    assert statuses == ['< 302 Found', '< 200 OK']
    assert json.loads(result.out)['path'] == '/echo/there'


def test_text_is_printed_as_it_is(server: Server) -> None:
    assert cli_main(f'{server.url}cli/text', 'body=héllo').out == 'héllo'
    assert cli_main(f'{server.url}cli/text', 'body=héllo', tty=True).out == 'héllo\n'
    assert cli_main(f'{server.url}cli/text', 'body=two\n', tty=True).out == 'two\n'


def test_a_json_string_prints_as_json(server: Server) -> None:
    parts = json.dumps(['"two\\nlines"'])
    result = cli_main(f'{server.url}chunks', 'type=application/problem+json', f'parts={parts}')
    assert (result.code, result.out) == (0, '"two\\nlines"\n')


def test_a_lone_surrogate_in_json_stays_escaped(server: Server) -> None:
    parts = json.dumps(['{"s": "\\udcff\\u00e9"}'])
    result = cli_main(f'{server.url}chunks', 'type=application/json', f'parts={parts}')
    assert (result.code, result.out) == (0, '{\n  "s": "\\udcff\u00e9"\n}\n')
    assert json.loads(result.out) == {'s': '\udcff\u00e9'}


def test_bytes_go_to_a_pipe_but_not_to_a_terminal(server: Server) -> None:
    piped = cli_main(f'{server.url}bytes/300')
    assert (piped.code, piped.stdout.bytes(), piped.err) == (0, (bytes(range(256)) * 2)[:300], '')
    shown = cli_main(f'{server.url}bytes/300', tty=True)
    assert (shown.code, shown.out) == (0, '')
    assert shown.err == ("clients: a binary body (300 bytes) is not shown on a terminal; redirect the output "
                         "or use 'clients download'\n")


# --- colour ------------------------------------------------------------------------------


def test_color_json_marks_every_kind_of_token() -> None:
    value = {'key "q"': ['s: 1', -1.5e3, 7, True, False, None, float('nan')]}
    text = json.dumps(value, indent=2)
    coloured = cli.color_json(text)
    assert ANSI.sub('', coloured) == text
    assert '\x1b[1;34m"key \\"q\\""\x1b[0m: [' in coloured
    assert '\x1b[32m"s: 1"\x1b[0m,' in coloured  # a string that looks like a key stays a string
    for token, color in [('-1500.0', '36'), ('7', '36'), ('true', '33'), ('false', '33'), ('null', '35'),
                         ('NaN', '36')]:
        assert f'\x1b[{color}m{token}\x1b[0m' in coloured


@pytest.mark.parametrize(
    ('tty', 'argv', 'environment', 'coloured'),
    [
        (True, [], {}, True),
        (False, [], {}, False),
        (True, [], {'NO_COLOR': '1'}, False),
        (True, [], {'NO_COLOR': ''}, True),  # NO_COLOR counts only when not empty
        (True, [], {'TERM': 'dumb'}, False),
        (True, ['--no-color'], {}, False),
        (False, ['--color'], {}, True),
        (True, ['--color'], {'NO_COLOR': '1'}, True),  # the explicit option wins
    ],
)
def test_colour_on_a_terminal_unless_told_otherwise(server: Server, monkeypatch: pytest.MonkeyPatch, tty: bool,
                                                   argv: list[str], environment: dict[str, str],
                                                   coloured: bool) -> None:
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    result = cli_main(*argv, f'{server.url}echo', tty=tty)
    assert result.code == 0
    assert bool(ANSI.search(result.out)) is coloured
    assert json.loads(ANSI.sub('', result.out))['path'] == '/echo'


# --- streams -------------------------------------------------------------------------------


def test_stream_prints_ndjson_one_compact_value_per_line(server: Server) -> None:
    parts = json.dumps(['{"a": 1}\n{"b"', ': [1,\t2]}\r', '\n\n{"c": "é"}'])
    result = cli_main('--stream', f'{server.url}chunks', f'parts={parts}', tty=True)
    assert (result.code, result.err) == (0, '')
    assert ANSI.sub('', result.out) == '{"a": 1}\n{"b": [1, 2]}\n{"c": "é"}\n'
    assert ANSI.search(result.out)


def test_stream_prints_server_sent_events_as_json(server: Server) -> None:
    parts = json.dumps(['event: tick\ndata: {"n": 1}\n\n', 'data: 2\n', '\n'])
    result = cli_main('--stream', f'{server.url}chunks', 'type=text/event-stream', f'parts={parts}')
    events = [json.loads(line) for line in result.out.splitlines()]
    assert events == [{'data': '{"n": 1}', 'event': 'tick', 'id': None, 'retry': None},
                      {'data': '2', 'event': 'message', 'id': None, 'retry': None}]


def test_an_event_stream_without_stream_prints_its_events_as_json(server: Server) -> None:
    parts = json.dumps(['event: tick\ndata: {"n": 1}\n\n', 'id: 7\ndata: 2\n', '\n'])
    result = cli_main(f'{server.url}chunks', 'type=text/event-stream', f'parts={parts}')
    assert (result.code, result.err) == (0, '')
    assert json.loads(result.out) == [{'data': '{"n": 1}', 'event': 'tick', 'id': None, 'retry': None},
                                      {'data': '2', 'event': 'message', 'id': '7', 'retry': None}]


def test_a_value_json_cannot_write_is_written_as_text() -> None:
    stdout = Stream()
    cli.Printer(stdout, Stream(), color=False).json({'at': datetime.date(2024, 1, 2)}, indent=None)
    assert stdout.text() == '{"at": "2024-01-02"}\n'


def test_stream_prints_text_lines(server: Server) -> None:
    parts = json.dumps(['one\r', '\ntwo\n', 'three'])
    result = cli_main('--stream', f'{server.url}chunks', 'type=text/plain', f'parts={parts}')
    assert (result.code, result.out) == (0, 'one\ntwo\nthree\n')


def test_stream_of_bytes(server: Server) -> None:
    piped = cli_main('--stream', f'{server.url}cli/abandoned/70000')
    assert piped.stdout.bytes() == (bytes(range(256)) * 274)[:70000]
    shown = cli_main('--stream', f'{server.url}cli/abandoned/70000', tty=True)
    assert (shown.code, shown.out) == (0, '')
    assert one_line_error(shown.err).startswith('clients: a binary stream is not shown on a terminal')


def test_a_read_timeout_while_streaming_exits_6(server: Server) -> None:
    result = cli_main('--stream', '--timeout', '0.2', f'{server.url}cli/late', 'between=2')
    assert result.out == '{"a": 1}\n'
    assert result.code == 6
    assert one_line_error(result.err).endswith(': timed out waiting for data; a longer --timeout may help\n')


def test_a_read_timeout_in_the_middle_of_a_body_names_the_request(server: Server) -> None:
    result = cli_main('--timeout', '0.2', f'{server.url}cli/late', 'between=2')
    assert (result.code, result.out) == (6, '')
    assert re.fullmatch(r'clients: GET http://127\.0\.0\.1:\d+/cli/late\?between=2: timed out waiting for data; '
                        r'a longer --timeout may help\n', one_line_error(result.err))


def test_streamed_objects_print_as_json() -> None:
    @dataclasses.dataclass
    class Event:
        event: str
        data: str

    Pair = collections.namedtuple('Pair', 'left right')
    stdout = Stream()
    printer = cli.Printer(stdout, Stream(), color=False)
    for item in (Event('tick', '1'), Pair(1, 2), (1, 2), 3):
        assert printer.item(item)
    assert stdout.text() == '{"event": "tick", "data": "1"}\n{"left": 1, "right": 2}\n[1, 2]\n3\n'


# --- download ----------------------------------------------------------------------------


def pattern(size: int) -> bytes:
    """The body of the server's /bytes/<size>."""
    return (bytes(range(256)) * (size // 256 + 1))[:size]


def test_download_to_a_path_replaces_the_file_only_when_complete(server: Server, tmp_path: Path) -> None:
    target = tmp_path / 'data.bin'
    target.write_bytes(b'old')
    target.chmod(0o640)
    result = cli_main('download', f'{server.url}bytes/5000', str(target))
    assert (result.code, result.out) == (0, '')
    assert result.err == f'Saved 4.9 KiB (5000 bytes) to {target}\n'
    assert target.read_bytes() == pattern(5000)
    assert stat.S_IMODE(target.stat().st_mode) == 0o640  # the file keeps its permissions
    for failing in ('short', 'status/404'):
        result = cli_main('download', f'{server.url}{failing}', str(target))
        assert result.code in (3, 4)
        one_line_error(result.err)
        assert target.read_bytes() == pattern(5000)  # untouched
    assert os.listdir(tmp_path) == ['data.bin']


def test_a_download_removes_what_a_killed_download_left(server: Server, tmp_path: Path) -> None:
    from tests.test_downloads import age, left_by

    killed, _ = left_by(tmp_path, '.clients-')
    age(killed)
    assert cli_main('download', f'{server.url}bytes/10', str(tmp_path)).code == 0
    assert os.listdir(tmp_path) == ['10.bin']


def test_download_names_the_file_from_the_response(server: Server, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    disposition = "attachment; filename=fallback.txt; filename*=UTF-8''r%C3%A9sum%C3%A9.txt"
    url = f'{server.url}cli/attachment?{urlencode({"disposition": disposition})}'
    for _ in range(2):
        assert cli_main('download', url).code == 0
    assert cli_main('download', f'{server.url}bytes/10').err == 'Saved 10 B (10 bytes) to 10.bin\n'
    assert cli_main('download', f'{server.url}echo/data.v2?x=1').err.endswith(' to data.v2\n')
    (tmp_path / 'into').mkdir()
    assert cli_main('download', f'{server.url}cli/text?body=hi', 'into').code == 0
    url = f'{server.url}cli/attachment?{urlencode({"disposition": "inline; filename=.."})}'
    assert cli_main('download', url, 'into').code == 0
    assert sorted(os.listdir(tmp_path)) == ['10.bin', 'data.v2', 'into', 'résumé-1.txt', 'résumé.txt']
    assert sorted(os.listdir(tmp_path / 'into')) == ['attachment.bin', 'text.txt']
    assert (tmp_path / 'into' / 'text.txt').read_bytes() == b'hi'
    umask = os.umask(0o022)
    os.umask(umask)
    assert stat.S_IMODE((tmp_path / '10.bin').stat().st_mode) == 0o666 & ~umask


@pytest.mark.parametrize(
    ('suggested', 'safe'),
    [('../../etc/passwd', 'passwd'), ('..\\..\\boot.ini', 'boot.ini'), ('.bashrc', 'bashrc'),
     (' a\x1b[31mb\n.txt ', 'a[31mb.txt'), ('..', ''), ('', ''), ('. .bashrc', 'bashrc'),
     (' .\u200b. .profile', 'profile'), ('x\x00y.txt', 'xy.txt'), ('\u202etxt.exe', 'txt.exe'),
     ('notes.txt. ', 'notes.txt'), ('a b.tar.gz', 'a b.tar.gz')],
)
def test_suggested_names_stay_plain_names(suggested: str, safe: str) -> None:
    assert cli.safe_name(suggested) == safe


@given(st.text())
def test_a_safe_name_is_one_visible_file_name_in_the_folder(suggested: str) -> None:
    name = cli.safe_name(suggested)
    assert cli.safe_name(name) == name
    if name:
        assert name.isprintable()
        assert not {'/', '\\'} & set(name)
        assert name == name.strip(' .') == name.strip()
        assert os.path.dirname(os.path.join('folder', name)) == 'folder'


@pytest.mark.parametrize(('path', 'disposition', 'saved'), [
    ('cli/attachment', 'attachment; filename=report', 'report'),  # the server's name, as it is
    ('cli/attachment', 'attachment; filename=". .bashrc"', 'bashrc'),
    ('cli/attachment', "attachment; filename*=UTF-8'en'%2e%2e%2f%2e%2essh%2fid.pub", 'id.pub'),
    ('cli/attachment', "attachment; filename=\"x.txt\"; filename*=bogus''y%2F..z.txt", 'z.txt'),
    ('echo/archive.tar.gz', '', 'archive.tar.gz'),  # the URL's name with an extension, as it is
    ('echo/v1.2', '', 'v1.2'),
    ('echo/file', '', 'file.json'),  # no extension: one from the Content-Type
    ('bytes/3', '', '3.bin'),
])
def test_download_keeps_a_name_with_an_extension(server: Server, tmp_path: Path, path: str, disposition: str,
                                                 saved: str) -> None:
    query = f'?{urlencode({"disposition": disposition})}' if disposition else ''
    result = cli_main('download', f'{server.url}{path}{query}', str(tmp_path))
    assert result.code == 0, result.err
    assert os.listdir(tmp_path) == [saved]


def test_download_through_a_symlink_and_to_a_device(server: Server, tmp_path: Path) -> None:
    real = tmp_path / 'real.bin'
    real.write_bytes(b'old')
    link = tmp_path / 'link.bin'
    link.symlink_to(real)
    assert cli_main('download', f'{server.url}bytes/3', str(link)).code == 0
    assert link.is_symlink()
    assert real.read_bytes() == b'\x00\x01\x02'
    result = cli_main('download', f'{server.url}bytes/3', os.devnull)
    assert (result.code, result.err) == (0, f'Saved 3 B (3 bytes) to {os.devnull}\n')
    assert Path(os.devnull).is_char_device()


def test_download_to_standard_output(server: Server) -> None:
    result = cli_main('download', f'{server.url}bytes/3000', '-')
    assert (result.code, result.stdout.bytes(), result.err) == (0, pattern(3000), '')
    refused = cli_main('download', f'{server.url}bytes/3000', '-', tty=True)
    assert (refused.code, refused.out) == (2, '')
    assert 'not writing a body to a terminal' in one_line_error(refused.err)


def test_download_into_a_missing_directory_fails_clearly(server: Server, tmp_path: Path) -> None:
    result = cli_main('download', f'{server.url}bytes/3', str(tmp_path / 'missing' / 'x.bin'))
    assert result.code == 1
    assert one_line_error(result.err) == f'clients download: No such file or directory: {tmp_path / "missing"}\n'


def test_download_to_a_missing_directory_named_with_a_slash(server: Server, tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = cli_main('download', f'{server.url}bytes/3', 'newdir/')
    assert result.code == 1
    assert one_line_error(result.err) == 'clients download: No such directory: newdir/\n'
    assert os.listdir(tmp_path) == []


def test_an_interrupted_download_leaves_nothing(server: Server, tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    written: list[int] = []
    write = cli.Counting.write

    def interrupt_later(self: cli.Counting, data: bytes) -> int:
        if written:
            raise KeyboardInterrupt
        written.append(write(self, data))
        return written[-1]

    monkeypatch.setattr(cli.Counting, 'write', interrupt_later)
    result = cli_main('download', f'{server.url}cli/abandoned/{3 << 20}', str(tmp_path / 'big.bin'))
    assert (result.code, result.err) == (130, 'clients: interrupted\n')
    assert [0 < size < 3 << 20 for size in written] == [True]  # part of the body had been written
    assert os.listdir(tmp_path) == []
    written.clear()
    shown = cli_main('download', f'{server.url}cli/abandoned/{3 << 20}', str(tmp_path / 'big.bin'), tty_err=True)
    assert shown.code == 130
    assert re.fullmatch(r'\rbig\.bin +\d+% \[#*\.+\]  [\d.]+ (B|KiB|MiB) / 3\.0 MiB  .*\x1b\[K\nclients: interrupted\n',
                        shown.err)
    assert os.listdir(tmp_path) == []


def test_a_failed_rename_leaves_nothing(server: Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(source: str, target: str) -> None:
        raise PermissionError(13, 'Permission denied', target)

    monkeypatch.setattr(os, 'replace', refuse)
    result = cli_main('download', f'{server.url}bytes/3', str(tmp_path / 'x.bin'))
    assert result.code == 1
    assert one_line_error(result.err) == f'clients download: Permission denied: {tmp_path / "x.bin"}\n'
    assert os.listdir(tmp_path) == []


def test_download_shows_a_progress_bar_on_a_terminal(server: Server, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv('COLUMNS', '100')
    target = tmp_path / 'big.bin'
    result = cli_main('download', '-v', f'{server.url}redirect?to=/bytes/3000000', str(target), tty_err=True)
    assert result.code == 0
    assert target.read_bytes() == pattern(3000000)
    head, _, bars = result.err.rpartition('\n\n')
    assert '< 302 Found' in head
    draws = bars.split('\r')
    assert draws[0] == ''
    final, saved = draws[-1].split('\n', 1)
    assert saved == f'Saved 2.9 MiB (3000000 bytes) to {target}\n'
    assert re.fullmatch(r'big\.bin 100% \[#+\]  2\.9 MiB / 2\.9 MiB  \S+ \S+/s  in \d+:\d\d\x1b\[K', final)
    for draw in draws[1:-1]:
        assert re.fullmatch(r'big\.bin +\d+% \[#*\.*\]  [\d.]+ \S+ / 2\.9 MiB  \S+ \S+/s  ETA [\d:-]+\x1b\[K', draw)
        assert len(draw) <= 100 - 1 + len('\x1b[K')


def test_download_progress_without_a_length(server: Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    parts = json.dumps(['a' * 10, 'b' * 10])
    result = cli_main('download', f'{server.url}chunks?type=text/plain&parts={parts}', tty_err=True)
    assert result.code == 0
    assert (tmp_path / 'chunks.txt').read_text() == 'a' * 10 + 'b' * 10
    final = result.err.split('\r')[-1]
    assert re.fullmatch(r'chunks\.txt  20 B  \S+ \S+/s  in 0:00\x1b\[K\nSaved 20 B \(20 bytes\) to chunks\.txt\n',
                        final)


class Clock:
    """A fake monotonic clock: `advance` moves it."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def test_progress_redraws_at_most_every_interval_with_rate_and_eta() -> None:
    clock, stream = Clock(), Stream(tty=True)
    progress = cli.Progress(stream, 'file.bin', 4 << 20, clock, interval=0.5, columns=80)
    progress.update(0)
    clock.advance(1)
    progress.update(1 << 20)
    clock.advance(0.4)
    progress.update(1 << 20)  # too soon: not drawn
    clock.advance(0.6)
    progress.update(0)
    clock.advance(3600)
    progress.update(2 << 20)
    progress.finish()
    assert stream.text().split('\r') == [
        '',
        'file.bin   0% [..................]  0 B / 4.0 MiB  -- B/s  ETA --:--\x1b[K',
        'file.bin  25% [####..............]  1.0 MiB / 4.0 MiB  1.0 MiB/s  ETA 0:03\x1b[K',
        'file.bin  50% [#########.........]  2.0 MiB / 4.0 MiB  1.0 MiB/s  ETA 0:02\x1b[K',
        'file.bin 100% [##################]  4.0 MiB / 4.0 MiB  1.1 KiB/s  ETA 0:00\x1b[K',
        'file.bin 100% [##################]  4.0 MiB / 4.0 MiB  1.1 KiB/s  in 1:00:02\x1b[K\n',
    ]


@pytest.mark.parametrize(
    ('columns', 'line'),
    [
        (80, '...n-and-on.tar.gz  50% [#####.....]  500 B / 1000 B  500 B/s  ETA 0:01'),
        (60, '...on-and-on.tar.gz  50%  500 B / 1000 B  500 B/s  ETA 0:01'),  # no room for a bar
        (40, '  50%  500 B / 1000 B  500 B/s  ETA 0:0'),
        (20, '  50%  500 B / 1000'),
    ],
)
def test_progress_fits_the_terminal(columns: int, line: str) -> None:
    name = 'a-very-long-file-name-that-goes-on-and-on.tar.gz'
    progress = cli.Progress(Stream(), name, 1000, Clock(), columns=columns)
    progress.done = 500
    assert progress.line(1) == line


def test_progress_abort_ends_a_drawn_line_only() -> None:
    stream = Stream(tty=True)
    progress = cli.Progress(stream, 'x', 10, Clock(), columns=80)
    progress.abort()
    assert stream.text() == ''
    progress.update(5)
    progress.abort()
    assert stream.text().endswith('\x1b[K\n')


def test_progress_without_a_total_or_beyond_it() -> None:
    clock = Clock()
    assert cli.Progress(Stream(), 'long-name.bin', None, clock, columns=20).line(1) == '....bin  0 B  0 B/s'
    assert cli.Progress(Stream(), 'name.bin', None, clock, columns=10).line(1) == '  0 B  0 '
    over = cli.Progress(Stream(), 'x', 10, clock, columns=80)
    over.done = 20  # more than announced: shown as 100%
    assert over.line(1) == 'x 100% [' + '#' * 31 + ']  20 B / 10 B  20 B/s  ETA 0:00'


def test_terminal_width(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv('COLUMNS', raising=False)
    assert cli.terminal_width(Stream(tty=True)) == 80  # no file descriptor
    with open(os.devnull, 'w') as devnull:
        assert cli.terminal_width(devnull) == 80  # not a terminal
        monkeypatch.setattr(os, 'get_terminal_size', lambda fd: os.terminal_size((132, 40)))
        assert cli.terminal_width(devnull) == 132  # the stream's own terminal (stderr, not stdout)
        for columns in ('0', 'wide'):
            monkeypatch.setenv('COLUMNS', columns)
            assert cli.terminal_width(devnull) == 132
    monkeypatch.setenv('COLUMNS', '90')
    assert cli.terminal_width(Stream(tty=True)) == 90


@pytest.mark.parametrize(('size', 'text'), [(0, '0 B'), (1023, '1023 B'), (1024, '1.0 KiB'), (1536, '1.5 KiB'),
                                            (5 << 30, '5.0 GiB'), (3 << 50, '3072.0 TiB')])
def test_size_text(size: int, text: str) -> None:
    assert cli.size_text(size) == text


@pytest.mark.parametrize(('seconds', 'text'), [(0, '0:00'), (59.6, '1:00'), (61, '1:01'), (3600, '1:00:00')])
def test_duration_text(seconds: float, text: str) -> None:
    assert cli.duration_text(seconds) == text


# --- failures, help and entry points ---------------------------------------------------------


def test_failure_messages_for_transport_errors() -> None:
    prepared = requests.Request('GET', 'http://h.test/x').prepare()
    timeout = requests.ConnectTimeout('pool: connect timed out', request=prepared)
    assert cli.failure(timeout) == (6, 'GET http://h.test/x: timed out connecting; a longer --timeout may help')
    assert cli.failure(requests.TooManyRedirects('Exceeded 30 redirects.')) == (3, 'Exceeded 30 redirects.')
    refused = requests.ConnectionError(urllib3.exceptions.MaxRetryError(
        None, '/x', urllib3.exceptions.NewConnectionError(None, 'failed')), request=prepared)  # type: ignore[arg-type]
    refused.args[0].reason.__cause__ = ConnectionRefusedError(111, 'Connection refused')
    assert cli.failure(refused) == (3, 'GET http://h.test/x: connection failed: Connection refused')
    assert cli.failure(FileNotFoundError(2, 'No such file or directory', 'x.bin')) == (
        1, 'No such file or directory: x.bin'
    )
    assert cli.failure(OSError('disk on fire')) == (1, 'disk on fire')


def test_causes_stop_at_a_cycle() -> None:
    first = ValueError('first')
    second = ValueError(first)
    first.__cause__ = second
    assert cli.causes(first) == [first, second]


def test_interrupted(server: Server, monkeypatch: pytest.MonkeyPatch) -> None:
    def interrupt(*args: Any) -> cli.Exit:
        raise KeyboardInterrupt

    monkeypatch.setitem(cli.COMMANDS, '', interrupt)
    result = cli_main(server.url)
    assert (result.code, result.err) == (130, 'clients: interrupted\n')


def test_a_closed_output_ends_quietly(server: Server) -> None:
    class Closed(Stream):
        def write(self, text: str) -> int:
            raise BrokenPipeError(32, 'Broken pipe')

    stderr = Stream()
    assert cli.main([f'{server.url}echo'], Closed(), stderr) == 141
    assert stderr.text() == ''


def test_help_documents_fields_and_exit_codes() -> None:
    result = cli_main('--help')
    assert (result.code, result.err) == (0, '')
    for text in ('clients [options] URL [SEGMENT ...] [FIELD ...]', 'clients download [options] URL [PATH]',
                 'NAME:=JSON', 'NAME==VALUE', '--pages', '--stream', '--color, --no-color', 'exit status:',
                 '  4    the server answered 4xx', '  6    timed out'):
        assert text in result.out
    download = cli_main('download', '--help')
    assert 'a failed download leaves nothing at PATH' in ' '.join(download.out.split())
    assert cli_main('--version').out == f'clients {__version__}\n'


def test_no_arguments_in_process() -> None:
    result = cli_main()
    assert result.code == 2
    assert result.err == "clients: give a URL, 'download URL' or 'demo' (see 'clients --help')\n"


def test_demo_in_process() -> None:
    result = cli_main('demo')
    assert (result.code, result.err) == (0, '')
    check_tour(result.out)


def test_main_reads_sys_argv_and_streams(server: Server, monkeypatch: pytest.MonkeyPatch,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(sys, 'argv', ['clients', f'{server.url}echo', 'a=1'])
    assert cli.main() == 0
    assert json.loads(capsys.readouterr().out)['query'] == {'a': '1'}


def test_importing_dunder_main_runs_nothing(monkeypatch: pytest.MonkeyPatch,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.delitem(sys.modules, 'clients.__main__', raising=False)
    module = importlib.import_module('clients.__main__')
    assert module.main is cli.main
    assert capsys.readouterr().out == ''


@pytest.mark.usefixtures('runpy_ready')
def test_python_dash_m_clients_in_process(server: Server, monkeypatch: pytest.MonkeyPatch,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(sys, 'argv', ['clients', f'{server.url}status/418'])
    monkeypatch.delitem(sys.modules, 'clients.__main__', raising=False)  # runpy wants a fresh run
    with pytest.raises(SystemExit) as exit_info:
        runpy.run_module('clients', run_name='__main__')
    assert exit_info.value.code == 4
    assert "returned 418 I'm a Teapot" in capsys.readouterr().err


def test_a_body_cut_short_names_the_request(server: Server) -> None:
    result = cli_main(f'{server.url}short')
    assert (result.code, result.out) == (3, '')
    assert re.match(r'clients: GET http://127\.0\.0\.1:\d+/short: the connection ended before the whole body',
                    one_line_error(result.err))


# --- clients demo --serve --------------------------------------------------------------


SERVING = re.compile(r'demo: the embedded JSON API is serving at (http://127\.0\.0\.1:\d+/) \(Ctrl-C stops it\)')


def test_demo_serve_runs_until_ctrl_c_as_a_process() -> None:
    command = [sys.executable, '-m', 'clients', 'demo', '--serve', '0']
    env = {name: value for name, value in os.environ.items() if name != 'PYTHONUNBUFFERED'}  # it flushes itself
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env) as process:
        try:
            assert process.stdout is not None
            found = SERVING.search(process.stdout.readline())
            assert found, 'the demo API did not say where it serves'
            url = found[1]
            item = run(url, 'items', '1')
            assert (item.returncode, json.loads(item.stdout)) == (0, {'id': 1, 'name': 'apple', 'stock': 5})
            pages = run('--pages', url, 'items', 'per_page=2')
            pieces = [json.loads(page + ']') for page in pages.stdout.split('\n]\n') if page]  # one list a page
            assert [[entry['id'] for entry in page] for page in pieces] == [[1, 2], [3]]
            assert run('-X', 'PATCH', url, 'items', '1', 'stock:=9').returncode == 0
            assert json.loads(run(url, 'items', '1').stdout)['stock'] == 9  # the same store throughout
        finally:
            process.send_signal(signal.SIGINT)  # Ctrl-C
            process.wait(timeout=TIMEOUT)
        # (read through the same file object as the first line: what it buffered belongs to the output)
        out, err = process.stdout.read(), process.stderr.read()
    assert (process.returncode, err) == (0, '')
    assert out.endswith('\nStopped.\n')
    assert f'  clients {url} items 1\n' in out
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(('127.0.0.1', int(url.rsplit(':', 1)[1].strip('/'))), timeout=5).close()


def test_demo_serve_in_process_until_interrupted() -> None:
    stdout, stderr = Stream(False), Stream(False)
    answers: list[Result] = []

    def explore() -> None:
        try:
            for _ in range(500):
                if found := SERVING.search(stdout.text()):
                    answers.append(cli_main(found[1], 'items', 'q=err'))
                    return
                time.sleep(0.01)
        finally:
            _thread.interrupt_main()  # as Ctrl-C does

    helper = threading.Thread(target=explore)
    helper.start()
    try:
        code = cli.main(['demo', '--serve', '0'], stdout, stderr)
    finally:
        helper.join(10)
    assert (code, stderr.text()) == (0, '')
    cherry = [{'id': 3, 'name': 'cherry', 'stock': 12}]
    assert [(answer.code, json.loads(answer.out)) for answer in answers] == [(0, cherry)]
    assert stdout.text().endswith('\nStopped.\n')


def test_every_command_the_served_demo_suggests_works(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)  # (the download)
    server, url = demo.make_server()
    try:
        for command in demo.TRY:
            result = cli_main(*shlex.split(command.format(url=url))[1:])
            assert result.code == 0, (command, result.err)
            assert result.out or result.err.startswith('Saved 16.0 KiB'), command
    finally:
        server.stop()
    assert (tmp_path / 'file.bin').read_bytes() == demo.FILE


def test_demo_serve_on_a_port_in_use_says_so() -> None:
    with socket.create_server(('127.0.0.1', 0)) as taken:
        port = taken.getsockname()[1]
        result = cli_main('demo', '--serve', str(port))
    assert (result.code, result.out) == (1, '')
    assert result.err == f'clients demo: cannot serve the demo API on 127.0.0.1:{port}: Address already in use\n'


@pytest.mark.parametrize('port', ['65536', '-1', 'http', '80.5'])
def test_demo_serve_needs_a_port_number(port: str) -> None:
    result = cli_main('demo', f'--serve={port}')
    assert result.code == 2
    assert f"expected a port number from 0 to 65535, not '{port}'" in one_line_error(result.err)


def test_demo_serve_defaults_to_port_8000() -> None:
    tour = cli.parsers()['demo']
    assert tour.parse_args(['--serve']).serve == 8000
    assert tour.parse_args([]).serve is None
    assert '--serve [PORT]' in cli_main('demo', '--help').out

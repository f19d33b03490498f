"""README stays true: its quick start works in a fresh shell, and is exactly what CI runs."""

import re
import shlex
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent
VENV = 'python3 -m venv .venv'
DOCS = ".venv/bin/pip install -q -e '.[docs]' && "  # CI builds the documentation after the tests


def quick_start() -> list[str]:
    """Return the commands of the README's Quick start section."""
    readme = (ROOT / 'README.md').read_text()
    section = readme.split('\n## Quick start\n', 1)[1].split('\n## ', 1)[0]
    return re.findall(r'```console\n(.+?)\n```', section, re.DOTALL)


def test_quick_start_is_a_demo_command_and_a_test_command() -> None:
    demo, tests = quick_start()
    assert demo == f'{VENV} && .venv/bin/pip install -q -e . && .venv/bin/python -m clients.demo'  # no test extra
    assert tests.startswith(f"{VENV} && .venv/bin/pip install -q -e '.[test]' && .venv/bin/python -m pytest ")
    assert '--cov=clients' in tests


@pytest.mark.parametrize('command', quick_start())
def test_each_quick_start_command_works_in_a_fresh_shell(command: str) -> None:
    # It makes the venv itself and calls its programs by path: nothing to activate, and
    # nothing of the shell's own environment (its `python`, `pip`, `.venv/bin` on PATH) is used.
    first, *steps = command.split(' && ')
    assert first == VENV
    assert steps
    for step in steps:
        program = shlex.split(step)[0]
        assert program.startswith('.venv/bin/'), step
    assert '\n' not in command
    assert 'activate' not in command


def test_ci_runs_the_quick_start_exactly() -> None:
    ci = (ROOT / '.ci' / 'run').read_text().splitlines()
    commands = quick_start()
    assert [line for line in ci if line in commands] == commands  # both, in that order, as written
    # nothing else installs the package or runs the demo or the tests; the docs line only adds its extra, and the
    # suite runs once more, as the test command runs it, over the other httpx library
    again = 'CLIENTS_HTTPX=httpx ' + commands[1].rpartition(' && ')[2]
    assert again in ci
    others = [line.removeprefix(DOCS) for line in ci
              if line not in (*commands, again) and not line.lstrip().startswith('#')]
    assert not [line for line in others if re.search(r'pip install|pytest|clients\.demo|activate', line)]


def test_ci_builds_the_documentation_strictly_after_the_tests() -> None:
    ci = (ROOT / '.ci' / 'run').read_text().splitlines()
    docs = [number for number, line in enumerate(ci) if line.startswith(DOCS)]
    assert len(docs) == 1
    assert docs[0] > ci.index(quick_start()[1])
    assert '.venv/bin/mkdocs build --strict ' in ci[docs[0]]


def test_the_documentation_gives_the_same_quick_start() -> None:
    page = (ROOT / 'docs' / 'quickstart.md').read_text()
    assert re.findall(r'```console\n(.+?)\n```', page, re.DOTALL) == quick_start()

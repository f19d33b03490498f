"""The distributions: an sdist that can run its own tests, a licence, metadata without warnings."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tarfile
import tomllib
import zipfile
from email.parser import HeaderParser
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent
# Of the Apache License 2.0 as published at https://www.apache.org/licenses/LICENSE-2.0.txt
APACHE_2_SHA256 = 'cfc7749b96f63bd31c3c42b5c471bf756814053e847c10f3eb003417bc523d30'
NOT_SOURCES = shutil.ignore_patterns(
    '.git', '.venv', 'venv', '__pycache__', '*.egg-info', '.*_cache', 'build', 'dist', '.coverage*', 'htmlcov'
)


class Built:
    """An sdist and a wheel built from a copy of the source tree, and what the build printed."""

    def __init__(self, folder: Path) -> None:
        source = folder / 'source'
        shutil.copytree(ROOT, source, ignore=NOT_SOURCES)
        out = folder / 'dist'
        out.mkdir()
        # The PEP 517 hooks, as `python -m build` calls them (without its download of setuptools).
        script = (
            'import sys; from setuptools import build_meta as hooks; out = sys.argv[1]; '  # (the hooks change sys.argv)
            'sdist = hooks.build_sdist(out); print(); print(sdist, hooks.build_wheel(out))'
        )
        # (Without bytecode writing, setuptools warns that it skips byte-compiling: a setting of
        # this machine, not of the project.)
        env = {name: value for name, value in os.environ.items() if name != 'PYTHONDONTWRITEBYTECODE'}
        done = subprocess.run([sys.executable, '-c', script, str(out)], cwd=source, env=env,
                              capture_output=True, text=True, timeout=120, check=False)
        assert done.returncode == 0, done.stderr
        self.log = done.stdout + done.stderr
        sdist, wheel = done.stdout.splitlines()[-1].split()  # the names the hooks returned
        self.sdist, self.wheel = out / sdist, out / wheel
        with tarfile.open(self.sdist) as archive:
            top = self.sdist.name.removesuffix('.tar.gz')
            self.files = {name.removeprefix(top + '/') for name in archive.getnames()}
            archive.extractall(folder / 'unpacked', filter='data')
        self.unpacked = folder / 'unpacked' / top


@pytest.fixture(scope='module')
def built(tmp_path_factory: pytest.TempPathFactory) -> Built:
    return Built(tmp_path_factory.mktemp('packaging'))


def test_sdist_holds_every_test_helper_and_what_the_tests_read(built: Built) -> None:
    wanted = {path.relative_to(ROOT).as_posix() for folder in ('clients', 'tests', 'bench')
              for path in (ROOT / folder).glob('*.py')}
    assert {'tests/__init__.py', 'tests/conftest.py', 'tests/server.py', 'tests/redis_server.py'} <= wanted
    wanted |= {'clients/py.typed', 'LICENSE', 'README.md', 'CHANGELOG.md', 'setup.cfg', 'setup.py',
               'pyproject.toml', 'ruff.toml', '.ci/run'}
    # tests/test_docs.py runs the examples of docs/
    wanted |= {'mkdocs.yml'} | {path.relative_to(ROOT).as_posix() for path in (ROOT / 'docs').glob('*.md')}
    assert sorted(wanted - built.files) == []


def test_the_unpacked_sdist_collects_its_tests(built: Built) -> None:
    # From the unpacked sdist, `clients` and `tests` are imported from there (the working directory).
    command = [sys.executable, '-m', 'pytest', '--collect-only', '-q', '-p', 'no:cacheprovider', 'tests']
    done = subprocess.run(command, cwd=built.unpacked, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr
    collected = {line.split('::')[0] for line in done.stdout.splitlines() if '::' in line}
    assert collected == {f'tests/{path.name}' for path in (ROOT / 'tests').glob('test_*.py')}


def test_the_build_prints_no_warning(built: Built) -> None:
    assert [line for line in built.log.splitlines() if 'warn' in line.lower()] == []


@pytest.mark.parametrize('kind', ['sdist', 'wheel'])
def test_metadata_names_the_licence_by_spdx_and_ships_its_text(built: Built, kind: str) -> None:
    if kind == 'sdist':
        with tarfile.open(built.sdist) as archive:
            member = archive.extractfile(f'{built.sdist.name.removesuffix(".tar.gz")}/PKG-INFO')
            assert member is not None
            metadata = member.read().decode()
    else:
        with zipfile.ZipFile(built.wheel) as archive:
            info = next(name for name in archive.namelist() if name.endswith('.dist-info/METADATA'))
            metadata = archive.read(info).decode()
            licence = info.replace('METADATA', 'licenses/LICENSE')
            assert archive.read(licence) == (ROOT / 'LICENSE').read_bytes()
            assert not any(name.startswith(('tests/', 'bench/')) for name in archive.namelist())
    fields = HeaderParser().parsestr(metadata)
    assert fields['License-Expression'] == 'Apache-2.0'
    assert fields.get_all('License-File') == ['LICENSE']
    assert fields['License'] is None
    assert not [value for value in fields.get_all('Classifier', []) if value.startswith('License ::')]


def test_licence_is_the_apache_license_2_0_verbatim() -> None:
    assert hashlib.sha256((ROOT / 'LICENSE').read_bytes()).hexdigest() == APACHE_2_SHA256


def test_pyproject_only_names_the_build_backend() -> None:
    # Metadata and tool settings stay in setup.cfg.
    pyproject = tomllib.loads((ROOT / 'pyproject.toml').read_text())
    assert pyproject == {
        'build-system': {'requires': ['setuptools>=77'], 'build-backend': 'setuptools.build_meta'}
    }

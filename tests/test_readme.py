"""README stays true: its test command is the one CI runs."""

import re
from pathlib import Path

ROOT = Path(__file__).parent.parent


def test_readme_test_command_is_what_ci_runs():
    readme = (ROOT / 'README.md').read_text()
    commands = re.findall(r'```console\n(.+?)\n```', readme)
    assert commands[0].endswith("pip install -e '.[test]' && python -m clients.demo")
    ci = (ROOT / '.ci' / 'run').read_text().splitlines()
    assert commands[1] in ci

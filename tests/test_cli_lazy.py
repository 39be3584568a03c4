"""`unloc` imports only the module of the command it runs: `--help` and light commands start without torch."""

import json
import subprocess
import sys

import pytest

from unloc.cli import COMMANDS, build_parser

PROBE = """
import json, sys
from unloc.cli import main
try:
    main({argv})
except SystemExit:
    pass
print(json.dumps(sorted(m for m in ("torch", "open_clip", "pandas", "matplotlib") if m in sys.modules)))
"""


def _heavy_modules(argv: list[str]) -> list[str]:
    out = subprocess.run([sys.executable, "-c", PROBE.format(argv=argv)], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_help_imports_no_command_module():
    assert _heavy_modules(["--help"]) == []


def test_help_lists_every_command(capsys):
    with pytest.raises(SystemExit):
        build_parser().parse_args(["--help"])
    text = capsys.readouterr().out
    assert all(name in text for name in COMMANDS)


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_each_command_registers_its_full_parser(name, capsys):
    with pytest.raises(SystemExit) as stop:
        build_parser(name).parse_args([name, "--help"])
    assert stop.value.code == 0
    assert "usage: unloc " + name in capsys.readouterr().out

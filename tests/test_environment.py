"""The conda environment file and the Makefile agree with pyproject.toml, the one dependency list."""

import re
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def _pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def test_environment_yml_delegates_to_pyproject():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    deps = env["dependencies"]
    pythons = [d for d in deps if isinstance(d, str) and d.startswith("python")]
    assert pythons == ["python=3.11"]
    assert ">=3.11" in _pyproject()["project"]["requires-python"]
    pip_sections = [d["pip"] for d in deps if isinstance(d, dict)]
    assert pip_sections == [["-e .[dev]"]]


def test_torch_and_torchvision_are_pinned_together():
    deps = _pyproject()["project"]["dependencies"]
    names = [re.split(r"[=<>\[ ]", d)[0].lower() for d in deps]
    assert len(names) == len(set(names)), "a package is listed twice"
    pins = {d.split("==")[0]: d.split("==")[1] for d in deps if "==" in d}
    assert pins["torch"] == "2.14.1" and pins["torchvision"] == "0.29.1"


def test_cli_entry_point_builds():
    from unloc.cli import build_parser

    assert build_parser().prog == "unloc"

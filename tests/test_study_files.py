"""The study's files agree with each other: every stage loads strictly, dvc.yaml names real sections, notebooks are thin."""

import ast
import json
from pathlib import Path

import pytest
import yaml

from unloc.config import load_config, read_params

ROOT = Path(__file__).resolve().parents[1]
PARAMS = ROOT / "params.yaml"
EXPERIMENT_GROUPS = ("pretrain", "mr", "tal", "seg", "ablations")


def _stages() -> list[str]:
    params = read_params(PARAMS)
    return [f"{group}.{name}" for group in EXPERIMENT_GROUPS for name in params[group]]


@pytest.mark.parametrize("profile", ["default", "smoke"])
def test_every_stage_loads_through_the_strict_loader(profile):
    for stage in _stages():
        cfg = load_config(stage, PARAMS, profile=profile)
        assert cfg.name == stage
        n_levels = cfg.model.pyramid.num_levels
        assert len(cfg.task.regression_ranges) == n_levels, f"{stage}: one regression range per pyramid level"
        assert "{" not in json.dumps(cfg.data.train.annotations), stage


def test_dvc_stages_name_existing_sections():
    dvc = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]
    params = read_params(PARAMS)
    assert set(dvc["mr"]["foreach"]) == set(params["mr"])
    assert set(dvc["tal"]["foreach"]) == set(params["tal"])
    assert set(dvc["ablation"]["matrix"]["name"]) == set(params["ablations"])
    assert dvc["ablation"]["matrix"]["seed"] == "${seeds}" and len(params["seeds"]) >= 3
    for stage in dvc.values():
        cmd = stage.get("do", stage)["cmd"]
        if "papermill" in cmd:
            notebook = cmd.split("papermill ")[1].split()[0]
            assert (ROOT / notebook).is_file(), notebook


@pytest.mark.parametrize("path", sorted((ROOT / "notebooks").glob("*.ipynb")), ids=lambda p: p.name)
def test_notebooks_are_thin(path):
    book = json.loads(path.read_text())
    assert book["metadata"]["kernelspec"]["name"] == "python3"
    code = [c for c in book["cells"] if c["cell_type"] == "code"]
    assert sum("parameters" in c["metadata"].get("tags", []) for c in code) == 1
    assert book["cells"][0]["cell_type"] == "markdown"
    for cell in code:
        source = "".join(cell["source"])
        assert not cell.get("outputs"), f"{path.name}: commit notebooks without outputs"
        tree = ast.parse(source)
        defs = [n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.ClassDef, ast.Lambda))]
        assert not defs, f"{path.name}: logic belongs in the unloc package, not in notebook cells"
        assert len(source.splitlines()) <= 15, f"{path.name}: a cell of {len(source.splitlines())} lines"


def test_the_study_tower_is_the_two_tower_models_architecture():
    from unloc.tasks.clip_pretraining import MINI_CLIP_ARCH

    assert read_params(PARAMS)["common"]["model"]["tower"]["arch"] == MINI_CLIP_ARCH

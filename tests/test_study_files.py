"""The study's files agree with each other: every stage loads strictly, dvc.yaml names real sections, notebooks are thin."""

import ast
import json
from pathlib import Path

import pytest
import yaml

from unloc.config import load_config, read_params

ROOT = Path(__file__).resolve().parents[1]
PARAMS = ROOT / "params.yaml"
EXPERIMENT_GROUPS = ("pretrain", "mr", "tal", "seg")


def _stages() -> list[str]:
    params = read_params(PARAMS)
    ablations = [f"ablations.{task}.{name}" for task, names in params["ablations"].items() for name in names]
    return [f"{group}.{name}" for group in EXPERIMENT_GROUPS for name in params[group]] + ablations


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
    assert set(dvc["mr_b"]["foreach"]) | set(dvc["mr_l"]["foreach"]) == set(params["mr"])
    assert set(dvc["tal"]["foreach"]) == set(params["tal"])
    for task in ("tal", "mr", "seg"):
        assert set(dvc[f"ablation_{task}"]["foreach"]) == set(params["ablations"][task]), task
    assert len(params["seeds"]) >= 3
    for stage in dvc.values():
        cmd = stage.get("do", stage)["cmd"]
        if " notebook " in cmd:
            notebook = cmd.split(" notebook ")[1].split()[0]
            assert (ROOT / notebook).is_file(), notebook
            assert notebook in stage.get("do", stage)["deps"], f"{notebook}: a stage depends on its notebook"


def test_every_dvc_parameter_exists_in_params_yaml():
    """DVC stops a stage whose params list names a missing key ('ablations.mr.base' after a rename): resolve each
    stage's foreach items and look every dotted key up."""
    dvc = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]
    params = yaml.safe_load(PARAMS.read_text())
    for name, stage in dvc.items():
        body = stage.get("do", stage)
        for item in stage.get("foreach", [None]):
            for key in body.get("params", []):
                dotted = key.replace("${item}", str(item)) if item is not None else key
                node = params
                for part in dotted.split("."):
                    assert isinstance(node, dict) and part in node, f"{name}@{item}: params.yaml has no {dotted!r}"
                    node = node[part]


def _dvc_deps(name: str) -> list[str]:
    stage = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"][name]
    return stage.get("do", stage)["deps"]


def test_dvc_deps_are_the_code_each_stage_runs():
    """An edit to the report reruns only `tables`; the library never reaches `tables`; every dep path exists."""
    for name in ("generate", "pretrain_clip", "pretrain_video", "pretrain_video_l", "mr_b", "mr_l", "tal", "seg",
                 "ablation_tal", "ablation_mr",
                 "ablation_seg", "tables"):
        deps = _dvc_deps(name)
        assert "unloc" not in deps, f"{name}: depends on the whole package"
        code = [d for d in deps if d.startswith(("unloc/", "notebooks/"))]
        assert all((ROOT / d).exists() for d in code), name
        assert any(d.startswith("unloc/study/report") for d in deps) == (name == "tables"), name
    assert _dvc_deps("generate") == ["unloc/study/miniworld"]
    assert not any(d in _dvc_deps("tables") for d in ("unloc/model", "unloc/train", "unloc/data"))
    assert "unloc/study/clip" in _dvc_deps("pretrain_clip") and "unloc/study/clip" not in _dvc_deps("mr_b")


def test_b_and_l_differ_only_in_size():
    """UnLoc-L stages start from the video pretraining at their own size, as the B stages do (paper: both from
    Kinetics pretraining), and differ from their B stage only in the `sizes.L` delta and that checkpoint."""
    from unloc.config.strict import to_dict
    from unloc.study.ablation import config_delta

    for b in ("charades_b", "qvh_b", "anet_captions_b"):
        big, small = (load_config(f"mr.{n}", PARAMS, profile="default") for n in (b[:-1] + "l", b))
        assert big.init.checkpoint.endswith("pretrain/video_l/model.safetensors")
        assert small.init.checkpoint.endswith("pretrain/video/model.safetensors")
        changed = {k.split(".")[0] + "." + k.split(".")[1] for k in config_delta(big, small)}
        assert changed <= {"model.fusion", "model.pyramid", "task.regression_ranges", "init.checkpoint"}, changed
        assert to_dict(big)["train"] == to_dict(small)["train"]
    video, video_l = (load_config(s, PARAMS, profile="default") for s in ("pretrain.video", "pretrain.video_l"))
    assert to_dict(video)["train"] == to_dict(video_l)["train"] and video_l.model.fusion.width > video.model.fusion.width


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
    from unloc.study.clip.pretraining import MINI_CLIP_ARCH

    assert read_params(PARAMS)["common"]["model"]["tower"]["arch"] == MINI_CLIP_ARCH


@pytest.mark.parametrize("task", ["tal", "mr", "seg"])
def test_each_ablation_differs_from_its_base_in_exactly_its_setting(task):
    """The resolved config of every setting equals its base's except for the keys of its one `settings` delta."""
    from unloc.config.strict import merge, to_dict
    from unloc.study.ablation import config_delta

    params = read_params(PARAMS)
    base = load_config(f"ablations.{task}.default", PARAMS, profile="default")
    for name in params["ablations"][task]:
        if name == "default":
            continue
        cfg = load_config(f"ablations.{task}.{name}", PARAMS, profile="default")
        delta = config_delta(cfg, base)
        setting = params["settings"][name]
        named = set(_dotted(merge({}, setting)))
        if "text_tower" in setting.get("model", {}):  # a new tower: its defaults join the delta too
            named.add("model.text_tower")
        assert delta and all(any(k == n or k.startswith(n + ".") for n in named) for k in delta), (name, delta)
        assert to_dict(cfg)["train"] == to_dict(base)["train"], f"{name}: trains differently from its base"


def _dotted(node, prefix=""):
    if isinstance(node, dict):
        return [k for key, value in node.items() for k in _dotted(value, f"{prefix}{key}.")]
    return [prefix[:-1]]


@pytest.mark.parametrize("path", sorted((ROOT / "notebooks").glob("*.ipynb")), ids=lambda p: p.name)
def test_each_notebook_ends_with_a_printed_finding(path):
    """The last code cell prints what the notebook found, computed from its numbers (no fixed 'Reading' prose)."""
    code = [c for c in json.loads(path.read_text())["cells"] if c["cell_type"] == "code"]
    assert "print(" in "".join(code[-1]["source"]), f"{path.name}: the last cell prints no finding"


def test_no_code_cell_is_copied_between_notebooks():
    """Shared set-up lives in one call (`stages.open_stage`, `findings.run_against_baselines`), not in cells of several
    statements repeated across notebooks (a cell of imports and one call may repeat: that call is the shared part)."""
    seen: dict[str, str] = {}
    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        for cell in json.loads(path.read_text())["cells"]:
            source = "".join(cell["source"]).strip()
            if cell["cell_type"] != "code" or "parameters" in cell["metadata"].get("tags", []):
                continue
            body = [n for n in ast.parse(source).body if not isinstance(n, (ast.Import, ast.ImportFrom))]
            if len(body) < 2:
                continue
            assert source not in seen, f"{path.name} repeats a cell of {seen.get(source)}"
            seen[source] = path.name


def test_rendered_notebooks_are_lean_and_show_results():
    """The executed notebooks tracked in git (what a fresh clone shows) fit 25 MB together, each has outputs, and
    none prints a warning or a path of the machine that ran it."""
    import subprocess

    tracked = subprocess.run(["git", "ls-files", "reports"], cwd=ROOT, capture_output=True, text=True,
                             check=True).stdout.split()
    books = [ROOT / p for p in tracked if p.endswith("notebook.ipynb") and (ROOT / p).is_file()]
    assert sum(p.stat().st_size for p in books) <= 25 * 2**20
    for path in books:
        outputs = [o for c in json.loads(path.read_text())["cells"] for o in c.get("outputs", [])]
        assert outputs, f"{path}: committed without outputs"
        text = json.dumps(outputs)
        assert "Warning" not in text and str(ROOT) not in text, f"{path}: a warning or an absolute path in its outputs"

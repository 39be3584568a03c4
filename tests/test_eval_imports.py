"""`unloc eval` stays light: the command module imports only the standard library, and evaluating each task imports
numpy and the standard library, never torch, pandas, matplotlib, open_clip or scipy (#13: the CLI starts at once)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

from unloc.eval.segmentation_inputs import read_class_list, read_segmentation_ground_truth

REPO = Path(__file__).resolve().parents[1]
FX = REPO / "tests" / "fixtures" / "eval"
HEAVY = ("torch", "pandas", "matplotlib", "open_clip", "scipy", "sklearn", "PIL", "av", "cv2", "safetensors")


def _modules_after(code: str) -> dict:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_the_eval_command_module_imports_only_the_standard_library():
    loaded = _modules_after("import json, sys\nimport unloc.eval.cli\n"
                            "print(json.dumps({'numpy': 'numpy' in sys.modules, 'unloc': sorted(m for m in sys.modules "
                            "if m.startswith('unloc'))}))")
    assert loaded == {"numpy": False, "unloc": ["unloc", "unloc.eval", "unloc.eval.cli"]}


def test_evaluating_every_task_imports_nothing_heavy(tmp_path):
    rng = np.random.default_rng(0)
    gt = read_segmentation_ground_truth(FX / "coin_layout_excerpt.json", fps=1.0, split="testing",
                                        classes=read_class_list(FX / "coin_taxonomy_excerpt.csv"))
    scores = tmp_path / "scores.npz"
    np.savez(scores, **{v: rng.normal(size=(len(y), len(gt.classes))) for v, y in gt.labels.items()})
    runs = [["mr", "--gt", FX / "qvhighlights_val_excerpt.jsonl", "--pred", FX / "qvhighlights_random_preds.jsonl"],
            ["tal", "--gt", FX / "activitynet13_substitute_excerpt.json", "--pred",
             FX / "activitynet13_random_preds.json"],
            ["seg", "--gt", FX / "coin_layout_excerpt.json", "--pred", scores, "--fps", "1", "--split", "testing",
             "--classes", FX / "coin_taxonomy_excerpt.csv"]]
    code = ("import contextlib, io, json, sys\nfrom unloc.eval.cli import main\ncodes = []\n"
            f"for argv in {[[str(a) for a in run] for run in runs]!r}:\n"
            "    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):\n"
            "        codes.append(main(argv))\n"
            f"print(json.dumps({{'codes': codes, 'heavy': [m for m in {HEAVY!r} if m in sys.modules]}}))")
    assert _modules_after(code) == {"codes": [0, 0, 0], "heavy": []}

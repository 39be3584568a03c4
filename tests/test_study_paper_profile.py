"""A stage under a real-data profile faces the paper's number for the configuration it runs, names its dataset, and
needs no mini-world; on the mini-world profiles nothing changes. (The notebooks themselves run under the paper profile
in the slow tests/test_paper_profile_notebook.py.)"""

from pathlib import Path

import pytest
from paper_root import write_paper_params, write_qvhighlights

from unloc.config import read_params
from unloc.config.paper import PAPER_CONFIGS
from unloc.study import stages
from unloc.study.findings import baseline_table, finding
from unloc.study.paper_profile import (
    PAPER_CELLS,
    PaperNumber,
    dataset_name,
    paper_config,
    paper_numbers,
    runs_real_data,
)

ROOT = Path(__file__).resolve().parents[1]
PARAMS = ROOT / "params.yaml"
FIXTURES = ROOT / "tests" / "fixtures" / "annotations"


def _values(stage: str) -> dict[str, float]:
    return {p.metric: p.value for p in paper_numbers(paper_config(PARAMS, "paper", stage))}


def test_every_paper_configuration_names_the_cells_it_reproduces():
    assert set(PAPER_CELLS) == {n for n in PAPER_CONFIGS if "_split" not in n}
    for stage in read_params(PARAMS)["profiles"]["paper"]["paper_configs"]:
        paper_numbers(paper_config(PARAMS, "paper", stage))  # every cell exists in the transcription


def test_each_stage_faces_the_row_of_the_configuration_it_runs():
    assert _values("mr.qvh_b") == {"R1@0.5": 64.5, "R1@0.7": 48.8, "MR-full-R1@0.5": 64.5, "MR-full-R1@0.7": 48.8}
    assert _values("mr.charades_b") == {"R1@0.5": 58.1, "R1@0.7": 35.4, "R5@0.5": 87.4, "R5@0.7": 59.1}
    assert _values("tal.finetune") == {"mAP@0.5": 54.6}
    assert _values("tal.zero_shot_50_split2") == {"mAP@0.5": 36.9}  # a split faces the paper's mean over splits
    assert _values("seg.coin") == {"frame_accuracy": 72.6, "mAP": 47.0}  # the paper profile runs COIN at size L
    assert _values("pretrain.video") == {}
    cite = paper_numbers("qvh_b")[0].cite
    assert cite == "Table 5, QVHighlights | UnLoc-B, R@1 0.5"


def test_the_mini_world_profiles_face_no_paper_number():
    assert not runs_real_data(PARAMS, "default") and not runs_real_data(PARAMS, "smoke")
    assert runs_real_data(PARAMS, "paper")
    assert paper_config(PARAMS, "default", "mr.qvh_b") is None and paper_numbers(None) == ()


def test_the_paper_column_and_sentence_appear_only_with_paper_numbers():
    ours = {"R1@0.5": 31.2, "R1@0.7": 12.0, "mIoU": 30.0}
    baselines = {"whole video": {"R1@0.5": 9.4, "R1@0.7": 0.0, "mIoU": 21.5}}
    assert list(baseline_table(ours, baselines).columns) == ["UnLoc (ours)", "whole video"]
    printed = (PaperNumber("R1@0.5", 58.1, "Table 5, Charades-STA | UnLoc-B, R@1 0.5"),)
    table = baseline_table(ours, baselines, printed)
    assert list(table.columns) == ["UnLoc (ours)", "paper", "whole video"]
    assert table.loc["R1@0.5", "paper"] == 58.1 and table["paper"].isna().sum() == 2
    assert finding("mr.charades_b", ours, baselines, paper=printed) == (
        "mr.charades_b: R1@0.5 31.2, 3.3x the best trivial baseline (whole video, 9.4); "
        "the paper prints 58.1 (Table 5, Charades-STA | UnLoc-B, R@1 0.5)")
    assert finding("s", ours, baselines, metric="mIoU", paper=printed).endswith("(whole video, 21.5)")


@pytest.mark.parametrize("path, name", [
    ("qvhighlights/highlight_val_release.jsonl", "QVHighlights"), ("charades_sta/charades_sta_test.txt", "Charades-STA"),
    ("activitynet_captions/val_1.json", "ActivityNet Captions"),
    ("activitynet13/activity_net.v1-3.substitute.json", "ActivityNet-1.3"), ("coin/COIN.json", "COIN"),
    ("kinetics/kinetics-400_val.csv", "Kinetics")])
def test_the_dataset_is_named_from_its_annotation_file(path, name):
    assert dataset_name(FIXTURES / path) == name


def test_open_stage_under_the_paper_profile_makes_no_mini_world(tmp_path, monkeypatch, capsys):
    write_qvhighlights(tmp_path / "data")
    params = write_paper_params(tmp_path)
    monkeypatch.chdir(tmp_path)  # open_stage enters the folder of the nearest params.yaml: undone after the test
    cfg = stages.open_stage("mr.qvh_b", params, "paper")
    assert cfg.data.eval.annotations == str(tmp_path / "data/qvhighlights/highlight_val_release.jsonl")
    assert not (tmp_path / "world").exists()
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("stage mr.qvh_b (mr)")
    assert lines[1].startswith("data: QVHighlights (the paper's qvh_b configuration), evaluated on "
                               "highlight_val_release.jsonl (8 queries on 8 videos, 8 of them under videos/)")

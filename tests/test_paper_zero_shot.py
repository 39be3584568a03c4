"""The canonical zero-shot class splits ship with the package; paper configs run any split by index; finished runs
are summarised as mean +- std over their splits."""

import csv
import fnmatch
import json
import math
import tomllib
from pathlib import Path

import pytest
import yaml

from unloc.config.paper import NUM_SPLITS, PAPER_CONFIGS, load_paper_config, zero_shot_dir, zero_shot_split
from unloc.config.strict import ConfigError
from unloc.data.build import read_class_split
from unloc.run.zero_shot import format_summary, main, run_split, summarize_splits

ROOT = Path(__file__).resolve().parents[1]
ANET_CLASSES = [row["action"] for row in csv.DictReader(
    (ROOT / "tests/fixtures/annotations/activitynet13/action_name.csv").open())]
SIZES = {"zs75": (150, 50), "zs50": (100, 100)}


@pytest.mark.parametrize("protocol", ["zs75", "zs50"])
def test_each_split_file_is_its_released_lists_and_partitions_the_200_classes(protocol):
    assert len(set(ANET_CLASSES)) == 200
    splits = []
    for k in range(NUM_SPLITS):
        data = json.loads(zero_shot_split(protocol, k).read_text())
        lists = zero_shot_dir() / "lists"
        assert data["seen"] == (lists / f"{protocol}_train_split_{k}.list").read_text().splitlines()
        assert data["unseen"] == (lists / f"{protocol}_test_split_{k}.list").read_text().splitlines()
        assert (len(data["seen"]), len(data["unseen"])) == SIZES[protocol]
        assert sorted(data["seen"] + data["unseen"]) == sorted(ANET_CLASSES)
        assert read_class_split(zero_shot_split(protocol, k), "unseen") == data["unseen"]
        splits.append(frozenset(data["unseen"]))
    assert len(set(splits)) == NUM_SPLITS  # ten different splits


def test_the_licence_travels_with_the_lists_and_the_package_data_globs_cover_them():
    licence = (zero_shot_dir() / "LICENSE.txt").read_text()
    assert licence.startswith("MIT License") and "Copyright (c) 2022 Chen Ju" in licence
    globs = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]["unloc"]
    package = ROOT / "unloc"
    files = [p.relative_to(package).as_posix() for p in (package / "resources" / "zero_shot").rglob("*") if p.is_file()]
    assert len(files) == 2 * 2 * NUM_SPLITS + 2 * NUM_SPLITS + 2  # lists, json, LICENSE, README
    assert all(any(fnmatch.fnmatch(f, g) and f.count("/") == g.count("/") for g in globs) for f in files)


def test_paper_configs_run_any_split_by_index():
    base = load_paper_config("anet_tal_zs75_b")
    assert base.data.class_split == str(zero_shot_split("zs75", 0)) and base.name == "anet_tal_zs75_b"
    third = load_paper_config("anet_tal_zs50_l_split3", **{"train.epochs": 2})
    assert third.data.class_split == str(zero_shot_split("zs50", 3)) and third.name == "anet_tal_zs50_l_split3"
    assert third.train.epochs == 2 and third.model == load_paper_config("anet_tal_zs50_l").model
    names = {n for n in PAPER_CONFIGS if "_split" in n}
    assert names == {f"anet_tal_zs{p}_{m}_split{k}" for p in (75, 50) for m in "bl" for k in range(1, NUM_SPLITS)}
    for bad in ("anet_tal_zs75_b_split10", "anet_tal_b_split1", "anet_tal_zs75_b_split0"):
        with pytest.raises(ConfigError, match="no paper config"):
            load_paper_config(bad)
    with pytest.raises(ConfigError, match="splits 0..9"):
        zero_shot_split("zs75", 10)


def _run(tmp_path: Path, name: str, split_file: str, metrics: dict) -> Path:
    run = tmp_path / name
    run.mkdir()
    (run / "config.yaml").write_text(yaml.safe_dump({"data": {"class_split": split_file}}))
    (run / "metrics.json").write_text(json.dumps(metrics))
    return run


def test_summary_is_mean_and_sample_std_over_splits(tmp_path, capsys):
    runs = [_run(tmp_path, f"r{k}", str(zero_shot_split("zs75", k)), {"mAP@0.5": v, "mAP_avg": v / 2, "note": "x"})
            for k, v in ((0, 40.0), (3, 42.0), (7, 47.0))]
    assert run_split(runs[1]) == ("zs75", 3)
    summary = summarize_splits(runs)
    mean, std, n = summary["mAP@0.5"]
    assert (mean, n) == (43.0, 3) and std == pytest.approx(math.sqrt((9 + 1 + 16) / 2))
    assert "note" not in summary and summary["mAP_avg"][0] == 21.5
    assert format_summary(summary, ["mAP@0.5"]) == "mAP@0.5: 43.00 ± 3.61 (3 splits)"
    assert main([str(r) for r in runs]) == 0
    assert "mAP_avg: 21.50 ± 1.80 (3 splits)" in capsys.readouterr().out


def test_summary_refuses_mixed_or_repeated_splits(tmp_path, capsys):
    a = _run(tmp_path, "a", str(zero_shot_split("zs75", 1)), {"mAP@0.5": 1.0})
    b = _run(tmp_path, "b", str(zero_shot_split("zs75", 1)), {"mAP@0.5": 2.0})
    c = _run(tmp_path, "c", str(zero_shot_split("zs50", 2)), {"mAP@0.5": 3.0})
    with pytest.raises(ValueError, match="both ran split 1"):
        summarize_splits([a, b])
    with pytest.raises(ValueError, match="several protocols"):
        summarize_splits([a, c])
    d = _run(tmp_path, "d", "data/my_split.json", {})
    assert main([str(d)]) == 2
    assert "not a run on a canonical zero-shot split" in capsys.readouterr().err

"""`unloc train --paper NAME --dry-run`: the resolved paper configuration beside the official config's keys."""

import re

import pytest
import yaml

from unloc.cli import main
from unloc.config import ExperimentConfig
from unloc.config.dry_run import dry_run_text, official_file
from unloc.config.paper import PAPER_CONFIGS, load_paper_config
from unloc.config.strict import from_dict

MARKER = "# the complete resolved configuration:\n"


def _table(text: str) -> dict[str, str]:
    """official key -> value, from the rows between the column header and the first blank line."""
    head, _, _ = text.partition("\n\n")
    rows = [line for line in head.splitlines() if not line.startswith("#")]
    return {m["key"]: m["value"] for m in (re.match(r"(?P<key>.+?)  +(?P<value>.+?)  +\S+.*$", r) for r in rows) if m}


@pytest.mark.parametrize("name", [n for n in PAPER_CONFIGS if "_split" not in n] + ["anet_tal_zs50_l_split7"])
def test_every_paper_config_prints_a_table_and_its_complete_resolved_yaml(name):
    cfg = load_paper_config(name)
    text = dry_run_text(cfg, name)
    assert text.startswith(f"# {name}: resolved configuration")
    assert from_dict(ExperimentConfig, yaml.safe_load(text.split(MARKER)[1]), where="dry-run") == cfg  # all of it
    table = _table(text)
    assert table["num_training_epochs"] == str(cfg.train.epochs)
    assert table["batch_size"] == "64" and table["rng_seed"] == "0"
    assert table["SA.num_layers"] == "6" and table["SA.num_heads"] == str(cfg.model.fusion.heads)
    assert table["init_from.checkpoint_path"] == (cfg.init.checkpoint or "none (the towers' own weights)")


def test_the_anet_tal_b_table_reads_like_the_official_file():
    text = dry_run_text(load_paper_config("anet_tal_b"), "anet_tal_b")
    assert "# official: scenic/projects/unloc/configs/activitynet/activitynet_tal_linspace_unloc_base_fpn.py" in text
    table = _table(text)
    assert table["MODEL_VARIANT"] == "B/16x1"
    assert table["IMG.classifier"] == "token (a learnable CLS per frame)"
    assert table["model.video_text_fusion_config.config.self_attention_encoder_name"] == "simple_pyramid"
    assert table["FP.regression_ranges"] == "(0, 4), (4, 8), (8, 16), (16, inf)"
    assert table["AUG.rand_augment_num_layers / magnitude"] == "3 / 10"
    assert table["HEAD.init_classification_head_bias"] == "-5.0"
    assert table["layer_prefix_to_base_lrs"] == "fusion 0.1, pyramid 0.1, heads 0.1"
    assert table["lr_configs.decay_events"] == "epochs [18.0] x 0.1"
    assert "# pyramid levels: 128/64/32/16 positions (T_tot 240)" in text


def test_coin_qvh_and_unofficial_configs():
    coin = _table(dry_run_text(load_paper_config("coin_l"), "coin_l"))
    assert coin["model.text_tower_config"] == "pass_through_encoder (fixed class embeddings)"
    assert coin["model.video_text_fusion_config.config.self_attention_encoder_name"] == "transformer"
    assert coin["model.head_config.action_segmentation.config.init_head_bias"] == "-6.6"
    assert coin["IMG.classifier"] == "gap (patch mean, no CLS)"
    assert _table(dry_run_text(load_paper_config("qvh_b"), "qvh_b"))["model_name"] == "highlight detection (own pairs)"
    assert official_file("anet_tal_zs75_l_split3").endswith(
        "activitynet_tal_linspace_unloc_large_fpn.py + a zero-shot class split (not in the official release)")
    assert "not in the official release" in official_file("kinetics700_b")
    assert official_file(None) == "(not a paper config)"


def test_cli_dry_run_prints_the_overridden_config_and_trains_nothing(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no Kinetics checkpoint here: a dry run does not need it
    assert main(["train", "--paper", "qvh_b", "--set", "train.epochs=3", "--dry-run", "--out", "run"]) == 0
    text = capsys.readouterr().out
    assert _table(text)["num_training_epochs"] == "3"
    assert "qvhighlights_linspace_unloc_base_fpn_hd.py" in text and not (tmp_path / "run").exists()

"""benchmarks/oracle_towers.py: the oracle features, and the towers restored afterwards."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import torch
import torch.nn.functional as F

from unloc.model.build import build_model, build_tokenizer
from unloc.model.config import tiny

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "oracle_towers.py"
_spec = importlib.util.spec_from_file_location("oracle_towers", SCRIPT)
oracle_towers = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(oracle_towers)


def test_oracle_features_and_restore():
    cfg = tiny()
    tok = build_tokenizer(cfg.tower)
    ids = tok(["a red circle moving left", "a red circle moving right"])
    frames = torch.rand(2, 3, 32, 32)
    before = build_model(cfg).eval()
    with oracle_towers.oracle_towers(text=True, pixels=4):
        model = build_model(cfg).eval()
        assert model.image_tower.out_dim == 48 and model.text_tower.out_dim == oracle_towers.BOW_DIM
        assert model.image_proj.weight.shape[1] == 48 and model.text_proj.weight.shape[1] == oracle_towers.BOW_DIM
        torch.testing.assert_close(model.image_tower(frames), F.adaptive_avg_pool2d(frames, 4).flatten(1))
        feats = model.text_tower(ids)
        table = oracle_towers.bow_table()
        n = int((ids[0] != 0).sum())
        torch.testing.assert_close(feats.pooled[0], table[ids[0, :n]].mean(0))
        cos = F.cosine_similarity(feats.pooled[0], feats.pooled[1], dim=0)
        assert 0.5 < cos < 0.95  # one word of seven differs
        with torch.no_grad():
            model(frames[None], ids)  # the whole model runs on oracle features
    after = build_model(cfg).eval()
    assert after.image_tower.out_dim == before.image_tower.out_dim == 32
    with torch.no_grad():
        assert after.text_tower(ids).pooled.shape == (2, 32)

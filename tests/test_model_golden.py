"""Golden forward outputs: small UnLoc models with fixed weights on fixed inputs, compared to stored logits and
displacements (in the style of open_clip's stored-output inference tests), so that no refactor silently changes the
model.

The weights do not come from the modules' initialisers (which may change with open_clip or torch): every parameter is
overwritten, in name order, from one seeded generator. The inputs come from another seeded generator and the CLIP
tokenizer. Variants: UnLoc-B's official structure (per-frame CLS, 'same' pyramid padding, 4 shared head layers),
UnLoc-L's (GAP, FPN, CLIP's text embeddings, unshared heads), this port's defaults (`tiny()`), the segmentation head,
late fusion, and the paired (QVHighlights) forward. After an intended change of the model's numerics, regenerate with
`UNLOC_REGENERATE_GOLDEN=1 python -m pytest tests/test_model_golden.py` and say why in the commit.
"""

import os
from dataclasses import replace
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

from unloc.model.build import build_model, build_tokenizer
from unloc.model.config import FusionConfig, HeadConfig, ModelConfig, PyramidConfig, tiny

FIXTURE = Path(__file__).parent / "fixtures" / "golden" / "unloc_forward.safetensors"
CAPTIONS = ["a person opens a door", "jumping rope", "a cat sleeps on the sofa"]
TOLERANCE = 1e-5


def _variants() -> dict[str, ModelConfig]:
    base = tiny()
    b = replace(base, tower=replace(base.tower, frame_token="frame_cls", frame_positions=8),
                fusion=FusionConfig(layers=2, width=32, heads=2, mlp_dim=64),
                pyramid=PyramidConfig(kind="vitdet", num_levels=4, padding="same"),
                head=HeadConfig(num_conv_layers=4, weight_sharing=True, cls_bias_init=-5.0, reg_bias_init=2.0))
    large = replace(base, tower=replace(base.tower, frame_token="gap"), text_projection="clip",
                    pyramid=PyramidConfig(kind="fpn", num_levels=3, fpn_layers=(0, 1, 2)),
                    head=HeadConfig(num_conv_layers=3, weight_sharing=False, cls_bias_init=0.0, reg_bias_init=0.0))
    segmentation = replace(base, pyramid=PyramidConfig(kind="none", num_levels=1),
                           head=HeadConfig(task="segmentation", num_conv_layers=0, cls_bias_init=-6.6))
    late = replace(base, fusion=replace(base.fusion, mode="late"))
    return {"unloc_b": b, "unloc_l_fpn": large, "default_tiny": base, "segmentation": segmentation, "late": late}


def _fill(model: torch.nn.Module, seed: int) -> None:
    """Every parameter from one generator: fan-in-scaled normals for matrices, 1 + 0.1 N for vector weights and
    per-level scales, 0.1 N for biases and shifts (+ 1 for the regression output, so that most displacements are
    positive and survive the ReLU)."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, param in sorted(model.named_parameters()):
            values = torch.randn(param.shape, generator=generator)
            if param.dim() >= 2:
                values /= max(param[0].numel(), 1) ** 0.5
            else:
                values = 0.1 * values + (1.0 if name.endswith(("weight", "scale")) else 0.0)
                if "regression" in name and name.endswith("out.bias"):
                    values += 1.0
            param.copy_(values)


def _outputs() -> dict[str, torch.Tensor]:
    torch.set_num_threads(1)
    frames = torch.randn(2, 8, 3, 32, 32, generator=torch.Generator().manual_seed(2))  # (b, t, 3, h, w)
    mask = torch.ones(2, 8, dtype=torch.bool)
    mask[1, 6:] = False  # a shorter second video
    out = {}
    for key, cfg in _variants().items():
        model = build_model(cfg).eval()
        _fill(model, 1)
        ids = build_tokenizer(cfg.tower)(CAPTIONS)
        with torch.no_grad():
            runs = {key: model(frames, ids, mask)}
            if key == "unloc_b":
                runs[f"{key}.paired"] = model(frames, ids, mask, pair_video_idx=torch.tensor([1, 0, 1]))
        for name, result in runs.items():
            for level, logits in enumerate(result.logits):
                out[f"{name}.logits.{level}"] = logits.contiguous()
            for level, offsets in enumerate(result.offsets or []):
                out[f"{name}.offsets.{level}"] = offsets.contiguous()
    return out


@pytest.fixture(scope="module")
def computed():
    outputs = _outputs()
    if os.environ.get("UNLOC_REGENERATE_GOLDEN"):
        FIXTURE.parent.mkdir(parents=True, exist_ok=True)
        save_file(outputs, str(FIXTURE))
    return outputs


def test_the_stored_outputs_cover_every_variant(computed):
    stored = load_file(str(FIXTURE))
    assert set(stored) == set(computed)
    assert {k.split(".")[0] for k in stored} == set(_variants())
    assert "unloc_b.logits.3" in stored and "unloc_b.paired.offsets.0" in stored and "segmentation.offsets.0" not in stored


@pytest.mark.parametrize("variant", sorted(_variants()))
def test_forward_matches_the_stored_outputs(computed, variant):
    stored = load_file(str(FIXTURE))
    keys = [k for k in stored if k.split(".")[0] == variant]
    assert keys
    for key in keys:
        assert computed[key].shape == stored[key].shape, key
        torch.testing.assert_close(computed[key], stored[key], atol=TOLERANCE, rtol=0, msg=key)
    for key in keys:  # outputs carry signal, not a degenerate (e.g. all-zero, ReLU'd away) model
        assert stored[key].std() > 0.01 and (stored[key] != 0).float().mean() > 0.2, key

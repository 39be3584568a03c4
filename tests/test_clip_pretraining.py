"""Mini-world CLIP pretraining: the pair reader and dataset, the CLIP loss, retrieval metrics, training, checkpoints."""

import copy
import dataclasses
import functools
import json
import math

import numpy as np
import open_clip
import pytest
import torch
import torch.nn.functional as F
from torch.utils.data import default_collate

from unloc.data.formats.quirks import AnnotationError
from unloc.model.build import build_image_tower, build_model
from unloc.model.clip_loader import build_tokenizer, create_clip
from unloc.model.config import FusionConfig, ModelConfig, PyramidConfig
from unloc.study.clip.pairs import PairDataset, caption_words, mirror_caption, read_pairs
from unloc.study.clip.pretraining import (
    ARCH_NAME,
    CAPTION_WORDS,
    MINI_CLIP_ARCH,
    ClipPretrainer,
    contrastive_loss,
    frames_caption_loss,
    make_datasets,
    mini_clip_tower,
    pretrain_clip,
    save_clip,
)
from unloc.study.clip.retrieval import chance_recall_at_1, object_probe, recall_at_k, retrieval_metrics, scene_key
from unloc.study.miniworld import SIZES, generate_world
from unloc.train import TrainConfig, fit

SMALL_ARCH = {  # 32 px frames as the tiny world renders them; milliseconds per step
    "embed_dim": 32,
    "custom_text": True,
    "vision_cfg": {"image_size": 32, "patch_size": 8, "layers": 1, "width": 32, "head_width": 16},
    "text_cfg": {"context_length": 32, "vocab_size": 49408, "width": 32, "heads": 2, "layers": 1},
}
MEAN, STD = (0.5, 0.25, 0.125), (0.5, 0.5, 2.0)


@pytest.fixture(scope="module")
def pairs_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("world")
    generate_world(out, SIZES["tiny"], seed=0, only=("pairs",))
    return out / "pairs"


@pytest.fixture(scope="module")
def pair_set(pairs_dir):
    return read_pairs(pairs_dir)


@functools.lru_cache(maxsize=1)
def _tokenizer():
    return build_tokenizer(mini_clip_tower(SMALL_ARCH))


def _dataset(pair_set, split="train", augment=False, image_size=32):
    return PairDataset(pair_set, split, tokenizer=_tokenizer(), image_size=image_size, mean=MEAN, std=STD,
                       augment=augment)


# --- reading pairs --------------------------------------------------------------------------------------------------

def test_read_pairs_tiny_world(pair_set, pairs_dir):
    lines = (pairs_dir / "pairs.jsonl").read_text().splitlines()
    assert len(pair_set.records) == len(lines) == 64
    assert pair_set.frames.shape == (64, 2, 32, 32, 3) and pair_set.frames_per_pair == 2
    first = json.loads(lines[0])
    assert pair_set.records[0].scene_caption == first["scene_caption"]
    assert pair_set.records[0].caption == first["caption"]
    assert len(pair_set.split("train")) + len(pair_set.split("val")) == 64
    with pytest.raises(ValueError, match="unknown pair split"):
        pair_set.split("test")


def _copy_world(pairs_dir, tmp_path, lines):
    (tmp_path / "frames.npz").write_bytes((pairs_dir / "frames.npz").read_bytes())
    (tmp_path / "pairs.jsonl").write_text("\n".join(lines) + "\n")
    return tmp_path


@pytest.mark.parametrize("edit, message", [
    (lambda r: "{not json", "line 3: not valid JSON"),
    (lambda r: json.dumps({**r, "idx": 64}), r"line 3: 'idx' must be an integer in \[0, 64\)"),
    (lambda r: json.dumps({**r, "split": "test"}), "line 3: 'split' must be one of"),
    (lambda r: json.dumps({**r, "scene_caption": ""}), r"line 3: field\(s\) \['scene_caption'\]"),
    (lambda r: json.dumps({**r, "idx": 0}), "line 3: idx 0 already used on line 1"),
])
def test_read_pairs_names_file_and_line(pairs_dir, tmp_path, edit, message):
    lines = (pairs_dir / "pairs.jsonl").read_text().splitlines()
    lines[2] = edit(json.loads(lines[2]))
    root = _copy_world(pairs_dir, tmp_path, lines)
    with pytest.raises(AnnotationError, match=message) as info:
        read_pairs(root)
    assert str(root / "pairs.jsonl") in str(info.value)


def test_read_pairs_missing_or_bad_frames(pairs_dir, tmp_path):
    (tmp_path / "pairs.jsonl").write_text("")
    with pytest.raises(FileNotFoundError, match="has no frames.npz"):
        read_pairs(tmp_path)
    np.savez(tmp_path / "frames.npz", frames=np.zeros((4, 2, 8, 8), np.uint8))
    (tmp_path / "pairs.jsonl").write_text("")
    with pytest.raises(AnnotationError, match=r"\(pairs, k, h, w, 3\) uint8"):
        read_pairs(tmp_path)


def test_mirror_caption():
    assert mirror_caption("the red circle moves left.") == "the red circle moves right."
    assert mirror_caption("we see the star as it moves right.") == "we see the star as it moves left."
    assert mirror_caption("a leftover square spins.") == "a leftover square spins."


# --- the dataset ----------------------------------------------------------------------------------------------------

def test_dataset_sample_is_normalized_and_tokenized(pair_set):
    ds = _dataset(pair_set)
    sample = ds[3]
    record = ds.records[3]
    raw = torch.from_numpy(pair_set.frames[record.idx]).permute(0, 3, 1, 2).float() / 255  # (k, 3, h, w)
    mean, std = torch.tensor(MEAN).view(3, 1, 1), torch.tensor(STD).view(3, 1, 1)
    torch.testing.assert_close(sample["frames"], (raw - mean) / std)
    assert int(sample["frame_idx"]) == 0
    tok = _tokenizer()
    assert torch.equal(sample["scene_ids"], tok([record.scene_caption])[0])
    assert torch.equal(sample["action_ids"], tok([record.caption])[0])
    big = _dataset(pair_set, image_size=64)[3]["frames"]
    assert big.shape == (2, 3, 64, 64)
    torch.testing.assert_close(big.mean(dim=(-1, -2)), sample["frames"].mean(dim=(-1, -2)), atol=0.02, rtol=0)


def test_augmentation_flips_frames_with_the_act_caption(pair_set):
    plain, aug = _dataset(pair_set), _dataset(pair_set, augment=True)
    tok = _tokenizer()
    flips = 0
    for i in range(len(aug)):
        a, p, record = aug[i], plain[i], aug.records[i]
        flipped = not torch.equal(a["frames"], p["frames"])
        if flipped:
            flips += 1
            assert torch.equal(a["frames"], p["frames"].flip(-1))
            assert torch.equal(a["action_ids"], tok([mirror_caption(record.caption)])[0])
        else:
            assert torch.equal(a["action_ids"], p["action_ids"])
        if record.action in ("disappear", "blink"):  # the appearance caption describes the first frame only
            assert int(a["frame_idx"]) == 0 and a["frame_valid"].tolist() == [True, False]
        else:
            assert a["frame_valid"].all()
        assert torch.equal(a["scene_ids"], p["scene_ids"])
    assert 0 < flips < len(aug)


# --- loss and metrics -----------------------------------------------------------------------------------------------

def test_contrastive_loss_matches_reference():
    img, txt = torch.randn(5, 8), torch.randn(5, 8)
    scale = torch.tensor(math.log(10.0))
    i, t = img / img.norm(dim=1, keepdim=True), txt / txt.norm(dim=1, keepdim=True)
    sim = 10.0 * i @ t.T
    ref_i2t = -sum(sim[k, k] - torch.logsumexp(sim[k], 0) for k in range(5)) / 5
    ref_t2i = -sum(sim[k, k] - torch.logsumexp(sim[:, k], 0) for k in range(5)) / 5
    torch.testing.assert_close(contrastive_loss(img, txt, scale), (ref_i2t + ref_t2i) / 2)
    eye = torch.eye(4)
    assert contrastive_loss(eye, eye, torch.tensor(math.log(100.0))) < 1e-6  # perfect pairs at the scale cap
    capped = contrastive_loss(img, txt, torch.tensor(math.log(1e4)))
    torch.testing.assert_close(capped, contrastive_loss(img, txt, torch.tensor(math.log(100.0))))


def test_frames_caption_loss_generalizes_the_clip_loss():
    img, txt, scale = torch.randn(4, 8), torch.randn(4, 8), torch.tensor(2.0)
    one = frames_caption_loss(img[:, None], torch.ones(4, 1, dtype=torch.bool), torch.zeros(4, dtype=torch.long),
                              txt, scale)
    torch.testing.assert_close(one, contrastive_loss(img, txt, scale))
    copies = frames_caption_loss(img[:, None].expand(4, 3, 8), torch.ones(4, 3, dtype=torch.bool),
                                 torch.tensor([0, 2, 1, 0]), txt, scale)
    torch.testing.assert_close(copies, contrastive_loss(img, txt, scale))
    frames = torch.randn(4, 3, 8)
    valid = torch.tensor([[True, True, True], [True, False, False], [True, True, False], [True, True, True]])
    idx = torch.tensor([1, 0, 1, 2])
    base = frames_caption_loss(frames, valid, idx, txt, scale)
    changed = frames.clone()
    changed[~valid] = torch.randn(int((~valid).sum()), 8)  # frames the caption is not true of play no part
    torch.testing.assert_close(frames_caption_loss(changed, valid, idx, txt, scale), base)
    logits = torch.exp(scale) * F.normalize(frames, dim=-1) @ F.normalize(txt, dim=-1).T  # (b, k, b)
    i2t = torch.stack([F.cross_entropy(logits[b, f][None], torch.tensor([b])) for b in range(4) for f in range(3)
                       if valid[b, f]]).mean()
    t2i = F.cross_entropy(torch.stack([logits[b, idx[b]] for b in range(4)]).T, torch.arange(4))
    torch.testing.assert_close(base, (i2t + t2i) / 2)


def test_recall_perfect_and_hand_worked():
    emb = torch.eye(6)
    assert recall_at_k(emb, emb, range(6), range(6), ks=(1, 5)) == {1: 1.0, 5: 1.0}
    q = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    g = torch.tensor([[1.0, 0.1], [0.0, 1.0], [-1.0, 0.0]])
    # query 0 -> best g0 (key a), query 1 -> g1 (key b) but wants c, query 2 -> g0 then g1; wants key b
    out = recall_at_k(q, g, ["a", "c", "b"], ["a", "b", "c"], ks=(1, 2))
    assert out == {1: pytest.approx(1 / 3), 2: pytest.approx(2 / 3)}
    assert chance_recall_at_1(["a", "b"], ["a", "a", "b", "c"]) == pytest.approx((2 / 4 + 1 / 4) / 2)
    assert recall_at_k(q, g, ["a", "c", "b"], ["a", "b", "c"], ks=(3, 7)) == {3: 1.0, 7: 1.0}  # whole gallery
    with pytest.raises(ValueError, match="cut-offs"):
        recall_at_k(q, g, "acb", "abc", ks=(0,))


def test_retrieval_metrics_keys_make_duplicates_right_answers():
    img = torch.tensor([[1.0, 0.0], [1.0, 0.01], [0.0, 1.0]])
    txt = img.flip(0)  # text j describes image 2 - j
    keys_img, keys_txt = ["x", "x", "y"], ["y", "x", "x"]
    out = retrieval_metrics(img, txt, keys_img, keys_txt, prefix="p_")
    assert out["p_i2t_r1"] == 1.0 and out["p_t2i_r1"] == 1.0 and out["p_i2t_r5"] == 1.0
    assert out["p_chance_r1"] == pytest.approx((2 / 3 + 2 / 3 + 1 / 3) / 3)
    assert scene_key("a red star, two blue circles and a red circle.") == (
        "a red circle", "a red star", "two blue circles")


def test_object_probe():
    prompts = [("red", "circle", "a red circle."), ("blue", "star", "a blue star."), ("red", "star", "a red star.")]
    frames = torch.tensor([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
    captions = ["two red circles.", "a red circle and a blue star.", "a blue star."]
    out = object_probe(frames, torch.eye(3), prompts, captions)
    assert out["probe_top1"] == pytest.approx(2 / 3)  # the third frame's best prompt, a red star, is not there
    assert out["probe_chance"] == pytest.approx(4 / 9)
    assert out["probe_colour"] == pytest.approx(2 / 3) and out["probe_shape"] == 1.0  # a star is there
    assert out["probe_colour_chance"] == pytest.approx((2 + 3 + 1) / 9)
    assert out["probe_shape_chance"] == pytest.approx((1 + 3 + 2) / 9)


# --- training and the checkpoint ------------------------------------------------------------------------------------

def _pretrainer(pair_set, action_weight=0.5):
    clip_model = create_clip(mini_clip_tower(SMALL_ARCH))
    return ClipPretrainer(clip_model, pair_set.frames_per_pair, action_weight), clip_model


@pytest.mark.parametrize("action_weight", [0.0, 0.5])
def test_overfits_a_fixed_batch(pair_set, tmp_path, action_weight):
    model, clip_model = _pretrainer(pair_set, action_weight)
    train, _ = make_datasets(pair_set, mini_clip_tower(SMALL_ARCH), clip_model)
    batch = default_collate([train[i] for i in range(8)])
    cfg = TrainConfig(epochs=1, global_batch_size=8, base_lr=3e-3, optimizer="adamw", lr_multipliers={},
                      warmup_epochs=0.0, schedule="constant", checkpoint_every_epochs=0)
    history = fit(model, lambda m, b: m(**b), cfg, out_dir=tmp_path, batches=lambda epoch: [batch] * 30, progress=False)
    losses = [s["loss"] for s in history.steps]
    assert len(losses) == 30 and math.isfinite(losses[-1])
    assert losses[-1] < losses[0] / 5
    assert ("action_loss" in history.steps[0]) == (action_weight > 0)


def test_checkpoint_loads_through_the_tower_code_path(pair_set, tmp_path):
    _, clip_model = _pretrainer(pair_set)
    with torch.no_grad():
        for p in clip_model.parameters():
            p.add_(0.01 * torch.randn_like(p))  # stand-in for training: any weights other than the init
    path = save_clip(clip_model, tmp_path, SMALL_ARCH)
    assert json.loads((tmp_path / ARCH_NAME).read_text()) == SMALL_ARCH
    clip_model.eval()
    frames = torch.randn(3, 3, 32, 32)
    ids = build_tokenizer(mini_clip_tower(SMALL_ARCH))(["a red circle.", "two blue stars and a green square."])
    tower_cfg = mini_clip_tower(SMALL_ARCH, pretrained=str(path))
    image_tower = build_image_tower(tower_cfg).eval()
    with torch.no_grad():
        torch.testing.assert_close(image_tower(frames) @ clip_model.visual.proj, clip_model.encode_image(frames))
        unloc = build_model(ModelConfig(
            tower=tower_cfg, fusion=FusionConfig(layers=1, width=32, heads=2, mlp_dim=64),
            pyramid=PyramidConfig(num_levels=2, fpn_layers=(0, 1)),
        )).eval()
        pooled = unloc.text_tower(ids).pooled
        torch.testing.assert_close(pooled @ clip_model.text.text_projection, clip_model.encode_text(ids))
    # the arch JSON is an open_clip model config: open_clip itself builds the same model from it
    open_clip.add_model_config(tmp_path / ARCH_NAME)
    native = open_clip.create_model(ARCH_NAME.removesuffix(".json"), pretrained=str(path)).eval()
    with torch.no_grad():
        torch.testing.assert_close(native.encode_image(frames), clip_model.encode_image(frames))


def test_mini_clip_arch_builds_towers():
    cfg = mini_clip_tower()
    assert cfg.arch == MINI_CLIP_ARCH and cfg.arch is not MINI_CLIP_ARCH and cfg.context_length == 32
    tower = build_image_tower(dataclasses.replace(cfg, arch=copy.deepcopy(MINI_CLIP_ARCH)))
    assert tower.image_size == 64
    assert tower(torch.zeros(2, 3, 64, 64)).shape == (2, MINI_CLIP_ARCH["embed_dim"])  # the ResNet's attention pool


def test_pretrain_clip_end_to_end(pairs_dir, tmp_path):
    cfg = TrainConfig(epochs=2, global_batch_size=16, base_lr=1e-3, optimizer="adamw", lr_multipliers={},
                      warmup_epochs=0.5)
    path, metrics, history = pretrain_clip(pairs_dir, tmp_path, cfg, arch=SMALL_ARCH, action_weight=0.5,
                                           progress=False)
    assert path == tmp_path / "clip_mini.safetensors" and path.is_file()
    assert (tmp_path / "train" / "history.jsonl").is_file()  # the trainer's folder under out_dir
    assert json.loads((tmp_path / "metrics.json").read_text()) == metrics
    assert len(history.steps) == 2 * (45 // 16)
    for name in ("i2t_r1", "i2t_r5", "t2i_r1", "t2i_r5", "action_i2t_r1", "probe_top1", "probe_chance"):
        assert 0.0 <= metrics[name] <= 1.0
    assert metrics["i2t_r1"] <= metrics["i2t_r5"] and metrics["num_pairs"] == 19
    loaded = create_clip(mini_clip_tower(SMALL_ARCH, pretrained=str(path)))
    assert loaded.logit_scale.item() != pytest.approx(math.log(1 / 0.07))  # the trained weights were saved


# --- the bag-of-words term ------------------------------------------------------------------------------------------

def test_word_term_is_the_caption_words_cross_entropy(pair_set):
    torch.manual_seed(0)
    clip_model = create_clip(mini_clip_tower(SMALL_ARCH))
    model = ClipPretrainer(clip_model, pair_set.frames_per_pair, word_weight=0.5, num_words=len(CAPTION_WORDS))
    train, _ = make_datasets(pair_set, mini_clip_tower(SMALL_ARCH), clip_model, word_vocab=CAPTION_WORDS)
    batch = default_collate([train[i] for i in range(6)])
    expected_words = caption_words([train.scene_captions[i] for i in range(6)], CAPTION_WORDS)
    torch.testing.assert_close(batch["scene_words"], expected_words)
    assert expected_words.sum(1).min() >= 2  # every caption names a colour and a shape
    model.eval()
    out = model(**batch)
    frame_emb, _ = model.embed_pairs(batch["frames"], batch["frame_idx"])
    reference = F.binary_cross_entropy_with_logits(model.words(frame_emb), expected_words)
    torch.testing.assert_close(out["word_loss"], reference)
    torch.testing.assert_close(out["loss"], out["image_loss"] + 0.5 * reference)
    with pytest.raises(ValueError, match="scene_words"):
        model(**{k: v for k, v in batch.items() if k != "scene_words"})
    with pytest.raises(ValueError, match="not combined"):
        ClipPretrainer(clip_model, pair_set.frames_per_pair, action_weight=0.5, word_weight=0.5)

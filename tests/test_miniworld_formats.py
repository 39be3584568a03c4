"""The mini-world's annotation files parse like the real ones (plain json/csv) and keep their invariants.

Layouts are compared with excerpts of the real files in tests/fixtures/miniworld/: same CSV headers and line ends,
same JSON keys (and key order for QVHighlights), same value types.
"""

import csv
import json
import re
from pathlib import Path

import numpy as np
import pytest

from unloc.study.miniworld import SIZES, generate_world

FIXTURES = Path(__file__).parent / "fixtures" / "miniworld"


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    out = tmp_path_factory.mktemp("miniworld")
    generate_world(out, SIZES["tiny"], seed=0)
    return out


def _csv(path):
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def _first_line(path):
    return Path(path).read_bytes().split(b"\n")[0] + b"\n"


def _types(obj):
    return {k: type(v).__name__ for k, v in obj.items()}


def test_kinetics_csv(world):
    root = world / "kinetics"
    assert _first_line(root / "kinetics_train.csv") == _first_line(FIXTURES / "kinetics-400_val.excerpt.csv")
    labels = (root / "label_map.txt").read_text().splitlines()
    assert len(labels) == 20 == len(set(labels))
    rows = _csv(root / "kinetics_train.csv") + _csv(root / "kinetics_val.csv")
    assert len(rows) == SIZES["tiny"].kinetics.num_videos and {r["split"] for r in rows} == {"train", "val"}
    for r in rows:
        assert r["label"] in labels and r["is_cc"] == "0" and len(r["youtube_id"]) == 11
        start, end = int(r["time_start"]), int(r["time_end"])
        assert 2 <= end - start <= 3
        assert (root / "videos" / f"{r['youtube_id']}_{start:06d}_{end:06d}.mp4").is_file()


def test_anet13_json(world):
    root = world / "anet13"
    real = json.loads((FIXTURES / "activity_net.v1-3.excerpt.json").read_text())
    ours = json.loads((root / "activity_net.v1-3.min.json").read_text())
    assert list(ours) == list(real) and ours["version"] == real["version"]
    assert set(ours["taxonomy"][0]) == set(real["taxonomy"][0])
    labels = (root / "label_map.txt").read_text().splitlines()
    assert [t["nodeName"] for t in ours["taxonomy"]] == labels and len(labels) == 20
    real_entry = next(iter(real["database"].values()))
    for vid, entry in ours["database"].items():
        assert _types(entry) == _types(real_entry) and not vid.startswith("v_")
        assert entry["subset"] in ("training", "validation") and entry["annotations"]
        assert _types(entry["annotations"][0]) == _types(real_entry["annotations"][0])
        for a in entry["annotations"]:
            assert a["label"] in labels and 0 <= a["segment"][0] < a["segment"][1] <= entry["duration"]
        assert (root / "videos" / f"v_{vid}.mp4").is_file()
    for name in ("zero_shot_75_25", "zero_shot_50_50"):
        for k in range(3):
            split = json.loads((root / "splits" / f"{name}_{k}.json").read_text())
            assert sorted(split["seen"] + split["unseen"]) == sorted(labels)


def test_charades_sta_txt_and_csv(world):
    root = world / "charades_sta"
    assert _first_line(root / "Charades_v1_train.csv") == _first_line(FIXTURES / "Charades_v1_train.excerpt.csv")
    pattern = re.compile(r"^(\w{5}) (\d+\.\d) (\d+\.\d)##(.+)$")
    for line in (FIXTURES / "charades_sta_train.excerpt.txt").read_text().splitlines():
        assert pattern.match(line), line  # the pattern fits the real file too
    for split in ("train", "test"):
        lengths = {r["id"]: float(r["length"]) for r in _csv(root / f"Charades_v1_{split}.csv")}
        lines = (root / f"charades_sta_{split}.txt").read_text().splitlines()
        assert lines
        for line in lines:
            vid, start, end, sentence = pattern.match(line).groups()
            assert 0 <= float(start) < float(end) <= lengths[vid] and sentence.endswith(".")
        assert {line.split()[0] for line in lines} == set(lengths)
        assert all((root / "videos" / f"{vid}.mp4").is_file() for vid in lengths)


def test_qvhighlights_jsonl(world):
    root = world / "qvhighlights"
    real = json.loads((FIXTURES / "highlight_train_release.excerpt.jsonl").read_text().splitlines()[0])
    qids = set()
    for split in ("train", "val"):
        lines = (root / f"highlight_{split}_release.jsonl").read_text().splitlines()
        assert lines
        for line in lines:
            q = json.loads(line)
            assert list(q) == list(real) and _types(q) == _types(real)
            assert q["qid"] not in qids
            qids.add(q["qid"])
            _yt, start, end = re.match(r"^(.{11})_(\d+\.\d)_(\d+\.\d)$", q["vid"]).groups()
            assert float(end) - float(start) == q["duration"] == SIZES["tiny"].qvhighlights.max_sec
            clips = [c for s, e in q["relevant_windows"] for c in range(s // 2, e // 2)]
            assert q["relevant_clip_ids"] == clips and len(q["saliency_scores"]) == len(clips)
            assert all(len(s) == 3 and all(0 <= v <= 4 for v in s) for s in q["saliency_scores"])
            assert (root / "videos" / f"{q['vid']}.mp4").is_file()


def test_anet_captions_json(world):
    root = world / "anet_captions"
    real_entry = next(iter(json.loads((FIXTURES / "anet_captions_train.excerpt.json").read_text()).values()))
    for name in ("train.json", "val_1.json"):
        data = json.loads((root / name).read_text())
        assert data
        for vid, entry in data.items():
            assert vid.startswith("v_") and list(entry) == list(real_entry) and _types(entry) == _types(real_entry)
            assert len(entry["timestamps"]) == len(entry["sentences"])
            assert all(0 <= s < e <= entry["duration"] for s, e in entry["timestamps"])
            assert all(s.startswith(" ") for s in entry["sentences"][1:])
            assert (root / "videos" / f"{vid}.mp4").is_file()


def test_coin_json_and_taxonomy(world):
    root = world / "coin"
    for name in ("taxonomy_target_action_mapping", "taxonomy_domain_target_mapping"):
        ours, real = (root / f"{name}.csv").read_bytes(), (FIXTURES / f"{name}.excerpt.csv").read_bytes()
        assert ours.split(b"\r\n")[0] == real.split(b"\r\n")[0] and ours.count(b"\n") == ours.count(b"\r\n")
    steps = {r["Action Id"]: (r["Target Label"], r["Action Label"])
             for r in _csv(root / "taxonomy_target_action_mapping.csv")}
    tasks = {r["Targets"] for r in _csv(root / "taxonomy_domain_target_mapping.csv")}
    real_entry = next(iter(json.loads((FIXTURES / "COIN.readme-example.json").read_text())["database"].values()))
    database = json.loads((root / "COIN.json").read_text())["database"]
    for vid, entry in database.items():
        assert list(entry) == list(real_entry) and _types(entry) == _types(real_entry)
        assert entry["subset"] in ("training", "testing") and entry["class"] in tasks
        assert _types(entry["annotation"][0]) == _types(real_entry["annotation"][0])
        for a in entry["annotation"]:
            assert steps[a["id"]] == (entry["class"], a["label"])
            assert 0 <= a["segment"][0] < a["segment"][1] <= entry["duration"]
        assert (root / "videos" / f"{vid}.mp4").is_file()


def test_pairs(world):
    root = world / "pairs"
    records = [json.loads(line) for line in (root / "pairs.jsonl").read_text().splitlines()]
    with np.load(root / "frames.npz") as archive:
        frames = archive["frames"]
    size = SIZES["tiny"]
    assert frames.shape == (size.pairs.num_pairs, size.pairs.frames_per_pair, 32, 32, 3) and frames.dtype == np.uint8
    assert [r["idx"] for r in records] == list(range(len(frames))) and {r["split"] for r in records} == {"train", "val"}
    assert len({r["caption"] for r in records}) > len(records) // 2


def test_manifest_hashes_match(world):
    import hashlib

    manifest = json.loads((world / "MANIFEST.json").read_text())
    assert manifest["seed"] == 0 and manifest["size"]["frame_px"] == 32
    for name, entry in manifest["datasets"].items():
        for rel, digest in entry["files"].items():
            assert hashlib.sha256((world / name / rel).read_bytes()).hexdigest() == digest
        assert entry["videos"] == len(list((world / name).glob("videos/*.mp4")))


# (dataset, annotation file, video file name from the reader's video id)
_READABLE = [
    ("kinetics", "kinetics_train.csv", "{}.mp4"), ("kinetics", "kinetics_val.csv", "{}.mp4"),
    ("anet13", "activity_net.v1-3.min.json", "v_{}.mp4"),
    ("charades_sta", "charades_sta_train.txt", "{}.mp4"), ("charades_sta", "charades_sta_test.txt", "{}.mp4"),
    ("qvhighlights", "highlight_train_release.jsonl", "{}.mp4"), ("qvhighlights", "highlight_val_release.jsonl", "{}.mp4"),
    ("anet_captions", "train.json", "{}.mp4"), ("anet_captions", "val_1.json", "{}.mp4"),
    ("coin", "COIN.json", "{}.mp4"),
]


@pytest.mark.parametrize("dataset,name,video", _READABLE)
def test_project_readers_read_the_files(world, dataset, name, video):
    from unloc.data.formats import read_annotations

    annotations = read_annotations(world / dataset / name)
    assert annotations.num_records > 0 and annotations.videos
    # the only quirk is the one copied on purpose: later ActivityNet Captions sentences start with a space
    assert set(annotations.quirks.counts) <= ({"untrimmed_text"} if dataset == "anet_captions" else set())
    assert all((world / dataset / "videos" / video.format(v)).is_file() for v in annotations.videos)

"""`python -m unloc.study generate`: byte-identical output for a seed (whatever the subset or worker count), decodable mp4s."""

import argparse
import json
from pathlib import Path

import av
import decord
import pytest

from unloc.study.miniworld import DATASETS, SIZES, WorldSize, generate_world, override
from unloc.study.miniworld.generate import GENERATOR_VERSION, register


def _tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def _without_timing(tree):
    manifest = json.loads(tree.pop("MANIFEST.json"))
    for entry in manifest["datasets"].values():
        entry.pop("seconds")
    return tree, manifest


@pytest.fixture(scope="module")
def first(tmp_path_factory):
    out = tmp_path_factory.mktemp("world_a")
    generate_world(out, SIZES["tiny"], seed=0)
    return out


def test_same_seed_same_bytes(first, tmp_path):
    generate_world(tmp_path, SIZES["tiny"], seed=0)
    a, manifest_a = _without_timing(_tree(first))
    b, manifest_b = _without_timing(_tree(tmp_path))
    assert a.keys() == b.keys() and any(k.endswith(".mp4") for k in a)
    assert [k for k in a if a[k] != b[k]] == []
    assert manifest_a == manifest_b


def test_subset_and_workers_give_the_same_files(first, tmp_path):
    generate_world(tmp_path, SIZES["tiny"], seed=0, only=("charades_sta", "pairs"), workers=2)
    a, b = _tree(first), _tree(tmp_path)
    part = {k: v for k, v in b.items() if k != "MANIFEST.json"}
    assert part and all(k.split("/")[0] in ("charades_sta", "pairs") for k in part)
    assert all(a[k] == v for k, v in part.items())
    assert list(json.loads(b["MANIFEST.json"])["datasets"]) == ["charades_sta", "pairs"]


def test_other_seed_other_world(first, tmp_path):
    generate_world(tmp_path, SIZES["tiny"], seed=1, only=("anet13",))
    a, b = _tree(first), _tree(tmp_path)
    ours = [k for k in b if k.startswith("anet13/videos/")]
    assert ours and not set(ours) & set(a)
    assert a["anet13/activity_net.v1-3.min.json"] != b["anet13/activity_net.v1-3.min.json"]


def test_regenerating_one_dataset_keeps_the_rest_of_the_manifest(first, tmp_path):
    generate_world(tmp_path, SIZES["tiny"], seed=0, only=("kinetics",))
    generate_world(tmp_path, SIZES["tiny"], seed=0, only=("coin",))
    assert list(json.loads((tmp_path / "MANIFEST.json").read_text())["datasets"]) == ["kinetics", "coin"]
    generate_world(tmp_path, SIZES["tiny"], seed=5, only=("coin",))  # another seed: old entries no longer describe it
    assert list(json.loads((tmp_path / "MANIFEST.json").read_text())["datasets"]) == ["coin"]


def test_a_world_from_another_generator_version_is_regenerated(tmp_path, monkeypatch):
    from unloc.study import stages as study
    world = tmp_path / "world"
    params = tmp_path / "params.yaml"
    params.write_text(f"vars: {{world: {world}}}\nworld: {{size: tiny, seed: 0, workers: 1}}\n")
    calls = []
    monkeypatch.setattr(study, "generate_world", lambda out, *a, **k: calls.append(out) or generate_world(out, *a, **k))
    study.ensure_world(params, None)
    manifest = json.loads((world / "MANIFEST.json").read_text())
    assert manifest["generator_version"] == GENERATOR_VERSION and len(calls) == 1
    study.ensure_world(params, None)  # current: kept
    assert len(calls) == 1
    (world / "MANIFEST.json").write_text(json.dumps({**manifest, "generator_version": GENERATOR_VERSION - 1}))
    study.ensure_world(params, None)  # older generator: its videos would not match this code's datasets
    assert len(calls) == 2 and json.loads((world / "MANIFEST.json").read_text())["generator_version"] == GENERATOR_VERSION


def test_decoded_frame_counts_match_durations(first):
    size = SIZES["tiny"]
    checked = 0
    anet = json.loads((first / "anet13" / "activity_net.v1-3.min.json").read_text())["database"]
    for vid, entry in list(anet.items())[:3]:
        path = first / "anet13" / "videos" / f"v_{vid}.mp4"
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            frames = [f.to_ndarray(format="rgb24") for f in container.decode(stream)]
            assert stream.average_rate == size.fps
        assert len(frames) == round(entry["duration"] * size.fps)
        assert frames[0].shape == (size.frame_px, size.frame_px, 3)
        reader = decord.VideoReader(str(path))
        assert len(reader) == len(frames) and reader.get_avg_fps() == size.fps
        checked += 1
    manifest = json.loads((first / "MANIFEST.json").read_text())
    assert manifest["datasets"]["qvhighlights"]["frames"] == 3 * 30 * size.fps
    assert checked == 3


def test_cli_generate(tmp_path, capsys):
    parser = argparse.ArgumentParser()
    register(parser.add_subparsers())
    args = parser.parse_args(["generate", "--out", str(tmp_path), "--size", "tiny", "--only", "kinetics",
                              "--set", "kinetics.num_videos=3", "--seed", "2"])
    assert args.func(args) == 0
    out = capsys.readouterr().out
    assert "kinetics" in out and "written to" in out
    assert len(list((tmp_path / "kinetics" / "videos").glob("*.mp4"))) == 3


def test_size_overrides_and_errors():
    size = override(SIZES["tiny"], ["fps=8", "anet13.max_sec=25", "pairs.num_pairs=10"])
    assert (size.fps, size.anet13.max_sec, size.pairs.num_pairs) == (8, 25.0, 10)
    with pytest.raises(ValueError, match="nope"):
        override(size, ["anet13.nope=3"])
    with pytest.raises(ValueError, match="key=value"):
        override(size, ["fps"])
    with pytest.raises(ValueError, match="frame_px"):
        WorldSize(frame_px=33)
    with pytest.raises(ValueError, match="unknown mini-world dataset"):
        generate_world(Path("/nonexistent-never-written"), size, 0, only=("kinetics400",))
    assert set(DATASETS) == {"kinetics", "anet13", "charades_sta", "qvhighlights", "anet_captions", "coin", "pairs"}

"""`unloc localize` and `unloc.infer.localize`: the three modes on tiny trained runs against their evaluation predictions,
long videos, the CLI, errors and the timeline plot (window and merge arithmetic: test_localize_windows.py)."""

import json
import math
import shutil

import numpy as np
import pytest
import torch
from tasks_common import one_thread  # noqa: F401
from test_experiment import params  # noqa: F401  (the tiny world and its params.yaml)
from videowrite import moving_squares, write_video

from unloc.cli import main
from unloc.config import load_config, replace
from unloc.data.transforms import FrameTransform
from unloc.data.video import VideoDecodeError, VideoFile
from unloc.infer.localize import LocalizeError, default_window_sec, label_runs, localize, to_json
from unloc.infer.timeline import _row_order, plot_timeline, timeline_rows
from unloc.infer.windows import tal_candidates, window_batches, window_spans
from unloc.model.clip_loader import build_tokenizer
from unloc.run.experiment import load_run, run_experiment
from unloc.tasks.action_segmentation import scores_at
from unloc.tasks.inference import build_task

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


# ---------------------------------------------------------------- tiny trained runs

@pytest.fixture(scope="module")
def world(params):  # noqa: F811
    """The tiny mini-world of tests/test_experiment.py (its params.yaml has the 'tal', 'mr' and 'seg' stages)."""
    return params.parent


@pytest.fixture(scope="module")
def trained(world):
    """Runs trained on first use, one per kind."""
    done = {}

    def get(kind):
        if kind not in done:
            torch.manual_seed(0)
            run_experiment(load_config(kind, world / "params.yaml"), world / "runs" / kind, progress=False)
            done[kind] = world / "runs" / kind
        return done[kind]
    return get


def _eval_video(world, dataset):
    return min((world / dataset / "videos").glob("*.mp4"))


def _check_segments(rows, duration, top_k):
    assert 0 < len(rows) <= top_k
    scores = [r["score"] for r in rows]
    assert all(0.0 <= s <= 1.0 for s in scores) and scores == sorted(scores, reverse=True)
    for r in rows:
        assert 0.0 <= r["start_sec"] <= r["end_sec"] <= duration + 1e-6


def test_tal_matches_the_evaluation_path(world, trained):
    run = trained("tal")
    preds = json.loads((run / "predictions.json").read_text())["results"]
    video_id, expected = next(iter(preds.items()))
    video = next((world / "anet13" / "videos").glob(f"*{video_id}*"))
    cfg, model, classes = load_run(run)
    out = localize((cfg, model, classes), video, window_sec=math.inf, top_k=cfg.task.nms.top_k)
    assert out["mode"] == "tal" and out["classes"] == classes["eval"] and len(out["windows"]) == 1
    _check_segments(out["predictions"], out["duration_sec"], cfg.task.nms.top_k)
    got = [(p["label"], p["start_sec"], p["end_sec"], p["score"]) for p in out["predictions"]]
    want = [(d["label"], *d["segment"], d["score"]) for d in expected]
    assert [g[0] for g in got] == [w[0] for w in want]
    np.testing.assert_allclose([g[1:] for g in got], [w[1:] for w in want], atol=1e-4)
    json.dumps(to_json(out))  # JSON-ready


def test_mr_matches_the_evaluation_path(world, trained):
    run = trained("mr")
    rows = [json.loads(line) for line in (run / "predictions.jsonl").read_text().splitlines()]
    test_file = (world / "charades_sta" / "charades_sta_test.txt").read_text().splitlines()
    video_id = rows[0]["vid"]
    captions = [line.split("##", 1)[1] for line in test_file if line.split()[0] == video_id]
    mine = [r for r in rows if r["vid"] == video_id]
    assert len(captions) == len(mine)
    video = next((world / "charades_sta" / "videos").glob(f"{video_id}*"))
    out = localize(run, video, queries=captions, window_sec=math.inf, top_k=100)
    assert [p["query"] for p in out["predictions"]] == [c.strip() for c in captions]
    for pred, row in zip(out["predictions"], mine):
        _check_segments(pred["segments"], out["duration_sec"], 100)
        got = [[s["start_sec"], s["end_sec"], s["score"]] for s in pred["segments"]]
        np.testing.assert_allclose(got, row["pred_relevant_windows"], atol=1e-4)


def test_seg_matches_the_evaluation_path(world, trained):
    run = trained("seg")
    stored = np.load(run / "predictions.npz", allow_pickle=False)
    video_id = stored.files[0]
    video = next((world / "coin" / "videos").glob(f"{video_id}*"))
    cfg, model, classes = load_run(run)
    out = localize((cfg, model, classes), video, segment=True)
    frames = out["frames"]
    k, q = frames["scores"].shape
    assert q == len(classes["eval"]) and frames["times_sec"].shape == (k,) and len(out["windows"]) == math.ceil(k / 16)
    assert frames["times_sec"][1] - frames["times_sec"][0] == pytest.approx(0.5)
    want = stored[video_id]  # the evaluator's 2 fps grid
    got = scores_at({"scores": frames["scores"], "timestamps_sec": frames["times_sec"]}, np.arange(len(want)) / 2.0)
    np.testing.assert_allclose(got, want, atol=1e-4)
    starts = [r["start_sec"] for r in out["predictions"]]
    assert starts == sorted(starts)
    for r, nxt in zip(out["predictions"], out["predictions"][1:] + [None]):
        assert 0 <= r["start_sec"] < r["end_sec"] <= out["duration_sec"] + 1e-6 and 0 <= r["score"] <= 1
        assert nxt is None or r["end_sec"] <= nxt["start_sec"]
    assert "frames" not in to_json(out)
    listed = json.loads(json.dumps(to_json(out, frame_scores=True)))["frames"]
    assert len(listed["labels"]) == k and set(listed["labels"]) <= set(classes["eval"]) | {None}


def test_default_window_is_the_training_p90(world, trained):
    cfg, _, _ = load_run(trained("tal"))
    data = json.loads((world / "anet13" / "activity_net.v1-3.min.json").read_text())["database"]
    durations = [v["duration"] for v in data.values() if v["subset"] == "training"]
    sec, source = default_window_sec(cfg)
    assert sec == pytest.approx(np.percentile(durations, 90)) and "training annotations" in source
    gone = replace(cfg, **{"data.train": replace(cfg.data.train, annotations=str(world / "nope.json"))})
    assert default_window_sec(gone)[0] == 150.0


def test_long_video_windows_are_shifted_into_video_time(world, trained, tmp_path):
    """A + B where the second window is exactly B: its candidates equal B's own, shifted by A's length."""
    videos = sorted((world / "anet13" / "videos").glob("*.mp4"), key=lambda p: VideoFile(p).num_frames)
    longest = VideoFile(videos[-1])
    b_frames = longest.read(np.arange(longest.num_frames)).numpy()
    a_frames = VideoFile(videos[0]).read(np.arange(len(b_frames) // 2)).numpy()
    fps = longest.fps
    write_video(tmp_path / "ab.mp4", np.concatenate([a_frames, b_frames]), fps=fps, lossless=True)
    write_video(tmp_path / "b.mp4", b_frames, fps=fps, lossless=True)
    ab, b = VideoFile(tmp_path / "ab.mp4"), VideoFile(tmp_path / "b.mp4")
    window = len(b_frames) / fps
    spans = window_spans(ab.duration_sec, window)
    assert len(spans) == 2 and spans[1][0] == pytest.approx(len(a_frames) / fps)

    cfg, model, classes = load_run(trained("tal"))
    tf = FrameTransform(crop_size=32, short_side=32)
    task = build_task(cfg.task, class_names=classes["eval"], tokenizer=build_tokenizer(cfg.model.tower))
    with torch.no_grad():
        (t0s, batch), = window_batches(ab, spans, 16, tf, batch_size=2)
        (b_t0, b_batch), = window_batches(b, window_spans(b.duration_sec, window), 16, tf, batch_size=2)
        first, in_ab = tal_candidates(task, model, batch)
        (alone,) = tal_candidates(task, model, b_batch)
    assert t0s == [0.0, pytest.approx(len(a_frames) / fps)] and b_t0 == [0.0]
    torch.testing.assert_close(in_ab.scores, alone.scores)  # the second window sees exactly B ...
    torch.testing.assert_close(in_ab.segments, alone.segments)  # ... in window-local seconds

    out = localize((cfg, model, classes), tmp_path / "ab.mp4", window_sec=window, top_k=100)
    assert out["windows"] == [list(s) for s in spans]
    _check_segments(out["predictions"], ab.duration_sec, 100)
    assert max(p["end_sec"] for p in out["predictions"]) > spans[0][1]  # found beyond the first window
    # the best prediction is the best candidate of either window, in video time (B's own shifted by A's length)
    shifted = [(0.0, first), (t0s[1], alone)]
    t0, c = max(shifted, key=lambda w: float(w[1].scores[w[1].mask].max()))
    best = int(torch.where(c.mask, c.scores, -1.0).argmax())
    top = out["predictions"][0]
    assert top["score"] == pytest.approx(float(c.scores[0, best]), abs=1e-6)
    assert [top["start_sec"], top["end_sec"]] == pytest.approx((c.segments[0, best] + t0).tolist(), abs=1e-5)
    assert top["label"] == classes["eval"][int(c.labels[0, best])]


# ---------------------------------------------------------------- CLI, errors, plot

def test_label_runs_hand_worked():
    labels = np.array([-1, 0, 0, 1, 1, -1, 2])
    runs = label_runs(labels, np.arange(7) * 0.5, duration_sec=3.7)
    assert [(c, s, e) for c, s, e, _ in runs] == [(0, 0.5, 1.5), (1, 1.5, 2.5), (2, 3.0, 3.7)]
    assert [r[3] for r in runs] == [slice(1, 3), slice(3, 5), slice(6, 7)]
    assert label_runs(np.array([-1, -1]), np.arange(2.0), 2.0) == []



def test_cli_writes_json_and_plot(world, trained, tmp_path, capsys):
    video = _eval_video(world, "charades_sta")
    out_json, png = tmp_path / "p.json", tmp_path / "plots" / "t.png"
    rc = main(["localize", str(video), "--run", str(trained("mr")), "--query", "a red circle moves",
               "--query", "a square appears", "--top-k", "3", "--out", str(out_json), "--plot", str(png)])
    assert rc == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed == json.loads(out_json.read_text())
    assert [len(p["segments"]) <= 3 for p in printed["predictions"]] == [True, True]
    data = png.read_bytes()
    assert data[:8] == PNG_MAGIC and len(data) > 1000


def test_cli_classes_file_and_tal(world, trained, tmp_path, capsys):
    names = tmp_path / "classes.txt"
    names.write_text("# mine\nfirst class\n\nsecond, with a comma\n")
    rc = main(["localize", str(_eval_video(world, "anet13")), "--run", str(trained("tal")),
               "--classes-file", str(names), "--window-sec", "inf"])
    assert rc == 0
    out = json.loads(capsys.readouterr().out)
    assert out["classes"] == ["first class", "second, with a comma"] and out["window_sec"] is None
    assert {p["label"] for p in out["predictions"]} <= set(out["classes"])


def test_errors_name_what_is_wrong(world, trained, tmp_path, capsys):
    tal, mr, seg = trained("tal"), trained("mr"), trained("seg")
    video = _eval_video(world, "anet13")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        localize(tmp_path / "missing", video)
    (tmp_path / "half").mkdir()
    (tmp_path / "half" / "config.yaml").write_text((tal / "config.yaml").read_text())
    with pytest.raises(FileNotFoundError, match="model.safetensors"):
        localize(tmp_path / "half", video)
    bad = tmp_path / "broken.mp4"
    bad.write_text("not a video")
    with pytest.raises(VideoDecodeError, match="broken.mp4"):
        localize(tal, bad)
    loaded = load_run(tal)
    with pytest.raises(LocalizeError, match="moment-retrieval runs"):
        localize(loaded, video, queries=["a person opens the door"])
    with pytest.raises(LocalizeError, match="'seg' run"):
        localize(loaded, video, segment=True)
    with pytest.raises(LocalizeError, match="non-empty"):
        localize(loaded, video, classes=["ok", " "])
    with pytest.raises(LocalizeError, match="at least one query"):
        localize(mr, video)
    with pytest.raises(LocalizeError, match="not classes"):
        localize(mr, video, queries=["x"], classes=["y"])
    with pytest.raises(LocalizeError, match="window_sec"):
        localize(seg, video, window_sec=10.0)
    rc = main(["localize", str(video), "--run", str(tal), "--query", "a door"])
    assert rc == 2 and "moment-retrieval" in capsys.readouterr().err
    rc = main(["localize", str(bad), "--run", str(tal)])
    assert rc == 2 and "broken.mp4" in capsys.readouterr().err
    for name, damage, message in [("config.yaml", "task: [1\n", "config.yaml is not valid YAML"),
                                  ("classes.json", "{", "classes.json is not valid JSON"),
                                  ("model.safetensors", "x" * 100, "model.safetensors is not a readable")]:
        damaged = tmp_path / f"damaged_{name}"
        shutil.copytree(tal, damaged)
        (damaged / name).write_text(damage)
        rc = main(["localize", str(video), "--run", str(damaged)])
        err = capsys.readouterr().err
        assert rc == 2 and err.count("\n") == 1 and err.startswith("unloc localize: error: ") and message in err, err


def test_timeline_rows_and_plot(tmp_path):
    video = tmp_path / "v.mp4"
    write_video(video, moving_squares(20, 32, 48), fps=5.0)
    mr_result = {"mode": "mr", "predictions": [{"query": "q1", "segments": [{"start_sec": 0.5, "end_sec": 1.0,
                                                                             "score": 0.7}]}]}
    assert timeline_rows(mr_result) == [("q1", 0.5, 1.0, 0.7)]
    pred = [("b", 0.0, 1.0, 0.2), ("a", 1.0, 2.0, 0.9), ("b", 2.0, 3.0, 0.4)]
    truth = [("c", 0.0, 4.0, None), ("b", 0.5, 1.5, None)]
    assert _row_order(timeline_rows(pred), truth) == [("a", False), ("b", True), ("b", False), ("c", True)]
    with pytest.raises(ValueError, match="before it starts"):
        timeline_rows([("x", 2.0, 1.0)])
    png = plot_timeline(video, pred, tmp_path / "t.png", ground_truth=[("b", 0.5, 1.5), ("c", 0.0, 4.0)],
                        n_thumbs=4, max_rows=3)
    data = png.read_bytes()
    assert data[:8] == PNG_MAGIC and len(data) > 1000

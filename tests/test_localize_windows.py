"""`unloc.infer.windows`: window layout, window sampling and time map, and the cross-window Soft-NMS merge."""

import itertools
import math

import numpy as np
import pytest
import torch
from videowrite import write_video

from unloc.data.datasets import time_map
from unloc.data.sampling import LinspaceSampling, linspace_indices
from unloc.data.transforms import FrameTransform
from unloc.data.video import VideoFile
from unloc.infer.windows import Candidates, merge_windows, read_window, shift_candidates, window_spans
from unloc.ops.nms import soft_nms
from unloc.tasks.config import NmsConfig


def test_window_spans_hand_worked():
    assert window_spans(10.0, 4.0) == [(0.0, 4.0), (3.0, 7.0), (6.0, 10.0)]  # stride 3 = 4 * (1 - 0.25)
    assert window_spans(3.0, 4.0) == [(0.0, 3.0)]  # a short video is one window: the whole video
    assert window_spans(4.0, 4.0) == [(0.0, 4.0)]
    assert window_spans(500.0, math.inf) == [(0.0, 500.0)]
    spans = window_spans(100.0, 30.0, overlap=0.5)  # ceil(70 / 15) + 1 = 6 windows
    assert len(spans) == 6 and spans[0][0] == 0.0 and spans[-1][1] == pytest.approx(100.0)
    for (s0, e0), (s1, _) in itertools.pairwise(spans):
        assert e0 - s0 == pytest.approx(30.0) and (e0 - s1) / 30.0 >= 0.5 - 1e-9
    with pytest.raises(ValueError):
        window_spans(10.0, 0.0)
    with pytest.raises(ValueError):
        window_spans(10.0, 4.0, overlap=1.0)


def _cands(rows):
    """Candidates of one row from (start, end, score, label) tuples."""
    seg = torch.tensor([[r[:2] for r in rows]], dtype=torch.float32)
    return Candidates(seg, torch.tensor([[r[2] for r in rows]]), torch.tensor([[r[3] for r in rows]]),
                      torch.ones(1, len(rows), dtype=torch.bool))


def test_merge_shifts_windows_then_suppresses_across_them():
    # window A starts at 0, window B at 3 s; B's (0.5, 1.0) is A's (3.5, 4.0) in video time
    a = _cands([(1.0, 2.0, 0.9, 0), (3.5, 4.0, 0.5, 1)])
    b = _cands([(0.5, 1.0, 0.6, 1), (5.0, 6.5, 0.8, 2)])
    hard = NmsConfig(method="hard", iou_threshold=0.5, top_k=10)
    out = merge_windows([(0.0, a), (3.0, b)], hard, duration_sec=9.0)
    kept = out.mask[0]
    assert out.segments[0][kept].tolist() == [[1.0, 2.0], [8.0, 9.0], [3.5, 4.0]]  # (8, 9.5) clipped to 9 s
    assert out.scores[0][kept].tolist() == pytest.approx([0.9, 0.8, 0.6])
    assert out.labels[0][kept].tolist() == [0, 2, 1]
    # Gaussian: the duplicate survives, decayed once by exp(-1 / (2 * 0.3)) (iou 1 with the 0.6 one)
    soft = merge_windows([(0.0, a), (3.0, b)], NmsConfig(top_k=10), duration_sec=9.0)
    assert soft.scores[0][soft.mask[0]].tolist() == pytest.approx([0.9, 0.8, 0.6, 0.5 * math.exp(-1 / 0.6)], rel=1e-5)
    # one window at 0 is exactly the task's single Soft-NMS
    ref = soft_nms(a.segments, a.scores, labels=a.labels, mask=a.mask, top_k=10)
    one = merge_windows([(0.0, a)], NmsConfig(top_k=10), duration_sec=9.0)
    assert torch.equal(one.segments, ref.segments) and torch.equal(one.scores, ref.scores)


def test_shift_clips_to_the_video():
    c = shift_candidates(_cands([(-1.0, 2.0, 0.5, 0), (4.0, 7.0, 0.5, 0)]), 2.0, duration_sec=8.0)
    assert c.segments[0].tolist() == [[1.0, 4.0], [6.0, 8.0]]


@pytest.fixture(scope="module")
def small_video(tmp_path_factory):
    """40 frames at 10 fps, 32 px, lossless."""
    path = tmp_path_factory.mktemp("small") / "v.mp4"
    rng = np.random.default_rng(0)
    write_video(path, rng.integers(0, 256, (40, 32, 32, 3), dtype=np.uint8), fps=10.0, lossless=True)
    return path


def test_read_window_time_map(small_video):
    video, tf = VideoFile(small_video), FrameTransform(crop_size=32, short_side=32)
    t0, item = read_window(video, (1.0, 3.0), 5, tf)  # frames 10..29: N_w = 20
    assert t0 == pytest.approx(1.0) and item.t0_sec == 0.0 and item.duration_sec == pytest.approx(2.0)
    assert item.sec_per_unit == pytest.approx(19 / (4 * 10))
    expected = 10 + np.floor(np.linspace(0, 19, 5)).astype(int)  # 10, 14, 19, 24, 29
    assert torch.equal(item.frames, tf(video.read(expected)))
    # the whole video as one window: the evaluation dataset's frames and time map
    t0, whole = read_window(video, (0.0, video.duration_sec), 8, tf)
    clip = video.clip(linspace_indices(video.num_frames, 8))
    assert t0 == 0.0 and torch.equal(whole.frames, tf(clip.frames))
    assert whole.sec_per_unit == pytest.approx(time_map(clip, 0, LinspaceSampling(8), 4.0)[0])

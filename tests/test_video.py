"""Frame sampling, timestamps, exact pixels and decode errors of unloc.data.video, on small mp4s written here."""

import pickle

import av
import numpy as np
import pytest
import torch
from videowrite import moving_squares, write_video

from unloc.data.sampling import (
    choose_window_start,
    fps_sample_times,
    frames_at_times,
    linspace_indices,
    pad_samples,
    window_starts,
)
from unloc.data.video import VideoDecodeError, VideoFile


def read_linspace(path, num_samples: int):
    """`num_samples` frames at floor(linspace) over the whole video, as the clip datasets read them."""
    video = VideoFile(path)
    return video.clip(linspace_indices(video.num_frames, num_samples))


def pattern(num_frames: int, height: int = 32, width: int = 40) -> np.ndarray:
    """Red channel = 5 * frame index, green = 4 * column, blue = 4 * row: the frame and pixel can be read back."""
    frames = np.zeros((num_frames, height, width, 3), np.uint8)
    frames[..., 0] = (5 * np.arange(num_frames) % 256)[:, None, None]
    frames[..., 1] = (4 * np.arange(width))[None, None, :]
    frames[..., 2] = (4 * np.arange(height))[None, :, None]
    return frames


@pytest.fixture(scope="module")
def lossless(tmp_path_factory):
    path = tmp_path_factory.mktemp("video") / "lossless.mp4"
    write_video(path, pattern(50), fps=10, lossless=True)
    return path


def test_linspace_indices_hand_worked():
    # floor(linspace(0, 49, 8)) = floor(0, 7, 14, 21, 28, 35, 42, 49)
    assert linspace_indices(50, 8).tolist() == [0, 7, 14, 21, 28, 35, 42, 49]
    # floor(linspace(0, 9, 4)) = floor(0, 3, 6, 9); floor(linspace(0, 10, 4)) = floor(0, 3.33, 6.67, 10)
    assert linspace_indices(10, 4).tolist() == [0, 3, 6, 9]
    assert linspace_indices(11, 4).tolist() == [0, 3, 6, 10]
    # a video shorter than F repeats frames, first and last always present
    assert linspace_indices(3, 5).tolist() == [0, 0, 1, 1, 2]
    assert linspace_indices(1, 3).tolist() == [0, 0, 0]
    with pytest.raises(ValueError):
        linspace_indices(0, 4)


def test_fps_sampling_times_and_frames():
    assert fps_sample_times(5.0, 2.0).tolist() == [0.0, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 3.5, 4.0, 4.5]
    assert fps_sample_times(1.2, 2.0).tolist() == [0.0, 0.5, 1.0]
    assert fps_sample_times(0.1, 2.0).tolist() == [0.0]
    # 4 fps video: frames start at 0, .25, .5, .75; variable-rate gaps are handled by the start times
    starts = np.array([0.0, 0.25, 0.5, 0.75, 1.5])
    assert frames_at_times(starts, np.array([0.0, 0.3, 0.5, 1.0, 1.49, 1.5, 9.0])).tolist() == [0, 1, 2, 3, 3, 4, 4]


def test_windows():
    assert window_starts(10, 4).tolist() == [0, 4, 8]
    assert window_starts(8, 4).tolist() == [0, 4]
    assert window_starts(3, 512).tolist() == [0]
    assert choose_window_start(10, 4, "center", None) == 3
    assert choose_window_start(3, 4, "center", None) == 0
    gen = torch.Generator().manual_seed(0)
    starts = {choose_window_start(10, 4, "random", gen) for _ in range(200)}
    assert starts == set(range(7))  # stride 1, every start that keeps the window inside


def test_pad_samples():
    values, times, mask, idx = pad_samples(torch.ones(2, 3), torch.tensor([1.0, 1.5]), torch.tensor([4, 6]), 4, 0.5)
    assert values.shape == (4, 3) and values[2:].abs().sum() == 0
    assert times.tolist() == [1.0, 1.5, 2.0, 2.5] and mask.tolist() == [True, True, False, False]
    assert idx.tolist() == [4, 6, -1, -1]
    with pytest.raises(ValueError):
        pad_samples(torch.ones(5, 3), torch.zeros(5), torch.zeros(5, dtype=torch.long), 4, 0.5)


def test_read_linspace_pixels_and_timestamps(lossless):
    clip = read_linspace(lossless, 8)
    idx = [0, 7, 14, 21, 28, 35, 42, 49]
    assert clip.frames.shape == (8, 32, 40, 3) and clip.frames.dtype == torch.uint8
    assert clip.frame_idx.tolist() == idx
    expected = torch.from_numpy(pattern(50)[idx]).int()
    assert (clip.frames.int() - expected).abs().max() <= 2  # crf 0 + yuv444p: exact up to colour rounding
    assert torch.allclose(clip.timestamps_sec, torch.tensor(idx, dtype=torch.float64) / 10, atol=1e-4)
    assert clip.mask.all()
    assert (clip.num_frames, clip.fps) == (50, 10.0)
    assert clip.duration_sec == pytest.approx(5.0, abs=1e-3)


def test_fps_windows_pad_last_window(lossless):
    video = VideoFile(lossless)
    idx = video.fps_frame_idx(2.0)  # 10 samples at 0, .5, ..., 4.5 s
    clips = [video.clip(idx[s:s + 4], pad_to=4, grid_step_sec=0.5) for s in window_starts(len(idx), 4)]
    assert len(clips) == 3
    assert [c.frame_idx.tolist() for c in clips] == [[0, 5, 10, 15], [20, 25, 30, 35], [40, 45, -1, -1]]
    last = clips[-1]
    assert last.mask.tolist() == [True, True, False, False]
    assert torch.allclose(last.timestamps_sec, torch.tensor([4.0, 4.5, 5.0, 5.5], dtype=torch.float64), atol=1e-4)
    assert last.frames[2:].sum() == 0
    assert (last.frames[1, 0, 0, 0].int() - 5 * 45).abs() <= 2
    start = choose_window_start(len(idx), 4, "center", None)
    assert start == 3 and video.clip(idx[start:start + 4]).frame_idx.tolist() == [15, 20, 25, 30]  # (10 - 4) // 2


def test_variable_rate_fps_sampling(tmp_path):
    # 30000/1001 fps: sample at 2 fps picks the frame on screen at k/2 s
    path = tmp_path / "ntsc.mp4"
    write_video(path, pattern(40), fps=30000 / 1001, lossless=True)
    video = VideoFile(path)
    starts = video.frame_times_sec()[:, 0]
    assert np.allclose(starts, np.arange(40) * 1001 / 30000, atol=1e-3)
    expected = [int(np.floor(k / 2 * 30000 / 1001 + 1e-6)) for k in range(3)]
    assert video.fps_frame_idx(2.0).tolist() == expected == [0, 14, 29]


def test_row_padded_width_falls_back_to_single_frames(tmp_path):
    # decord 0.6 pads RGB rows of 48-px-wide frames; get_batch fails and single frames come back mis-shaped
    path = tmp_path / "w48.mp4"
    write_video(path, pattern(12, height=32, width=48), fps=10, lossless=True)
    frames = VideoFile(path).read(np.array([0, 11, 5, 5]))
    assert frames.shape == (4, 32, 48, 3)
    assert (frames.int() - torch.from_numpy(pattern(12, 32, 48)[[0, 11, 5, 5]]).int()).abs().max() <= 2


def _truncate(src, dst, fraction):
    data = src.read_bytes()
    dst.write_bytes(data[: int(len(data) * fraction)])
    return dst


def _zero_frame_video(path):
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=10)
        stream.width, stream.height, stream.pix_fmt = 32, 32, "yuv420p"
        container.start_encoding()
    return path


@pytest.mark.parametrize("case", ["missing", "empty", "garbage", "truncated", "truncated_faststart", "zero_frames"])
def test_bad_videos_raise_error_naming_the_file(tmp_path, case):
    good, faststart = tmp_path / "good.mp4", tmp_path / "fast.mp4"
    write_video(good, pattern(60), fps=10)
    write_video(faststart, pattern(60), fps=10, faststart=True)
    path = tmp_path / f"{case}.mp4"
    if case == "empty":
        path.write_bytes(b"")
    elif case == "garbage":
        path.write_bytes(np.random.default_rng(0).integers(0, 256, 4000, dtype=np.uint8).tobytes())
    elif case == "truncated":
        _truncate(good, path, 0.5)  # index (moov) at the end: lost
    elif case == "truncated_faststart":
        _truncate(faststart, path, 0.5)  # index at the front, half the frame data missing
    elif case == "zero_frames":
        _zero_frame_video(path)
    with pytest.raises(VideoDecodeError) as info:
        read_linspace(path, 8)
    assert info.value.path == str(path) and str(path) in str(info.value)
    assert info.value.reason


def test_corrupt_frame_data_raises_on_read(tmp_path):
    good = tmp_path / "good.mp4"
    write_video(good, np.random.default_rng(1).integers(0, 256, (40, 32, 32, 3), dtype=np.uint8), faststart=True)
    data = bytearray(good.read_bytes())
    third = len(data) // 3
    data[third: 2 * third] = bytes(third)  # zero the middle third of the frame data
    bad = tmp_path / "zeroed.mp4"
    bad.write_bytes(bytes(data))
    video = VideoFile(bad)  # the index is intact, so it opens
    with pytest.raises(VideoDecodeError, match="zeroed.mp4"):
        video.read(np.arange(video.num_frames))


def test_decode_error_pickles_and_is_a_runtime_error():
    err = pickle.loads(pickle.dumps(VideoDecodeError("/x/y.mp4", "file is empty")))
    assert isinstance(err, RuntimeError) and err.path == "/x/y.mp4" and "y.mp4: file is empty" in str(err)


def test_out_of_range_index(lossless):
    with pytest.raises(IndexError, match="lossless.mp4"):
        VideoFile(lossless).read(np.array([0, 50]))


def test_moving_squares_moves_and_round_trips(tmp_path):
    frames = moving_squares(20, 48, 64)
    assert frames.shape == (20, 48, 64, 3) and frames.dtype == np.uint8
    assert all((frames[i] != frames[i + 1]).any() for i in range(19))  # something moves every frame
    path = tmp_path / "squares.mp4"
    write_video(path, frames, fps=10)
    decoded = VideoFile(path).read(np.arange(20)).numpy().astype(int)
    assert np.abs(decoded - frames).mean() < 4  # lossy, but the same picture

"""Sequential decoding of a dense span gives exactly the frames that seeking gives, in the requested order."""

import numpy as np
import pytest
from videowrite import moving_squares, write_video

from unloc.data import video as video_mod
from unloc.data.sampling import linspace_indices
from unloc.data.video import VideoFile, _is_dense


def test_is_dense_rule():
    assert _is_dense(np.arange(0, 200, 6))  # 34 frames over a span of 199: sequential decoding
    assert not _is_dense(np.linspace(0, 5399, 128).astype(int))  # a long real video: seek
    assert not _is_dense(np.array([3]))


@pytest.mark.parametrize("idx", [linspace_indices(150, 32), np.array([5, 140, 5, 70, 69]), np.arange(149, -1, -3)])
def test_dense_read_equals_frame_by_frame(tmp_path, monkeypatch, idx):
    path = tmp_path / "v.mp4"
    write_video(path, moving_squares(150, 32, 32), fps=10.0)
    monkeypatch.setattr(video_mod, "_DENSE_CHUNK", 16)  # several chunks, one partly used
    video = VideoFile(path)
    got = video.read(idx).numpy()
    want = np.stack([video._reader[int(i)].asnumpy() for i in idx])
    assert got.shape == (len(idx), 32, 32, 3)
    np.testing.assert_array_equal(got, want)

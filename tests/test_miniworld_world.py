"""Mini-world physics, scheduling and drawing: hand-worked states, frame bounds, colours and motion in decoded mp4s."""

import math

import av
import numpy as np
import pytest

from unloc.study.miniworld.render import background, render_frames, render_video
from unloc.study.miniworld.schedule import SceneBuilder, windows_of
from unloc.study.miniworld.vocab import ACTION_KEYS, COLOURS, SHAPES
from unloc.study.miniworld.world import EXTENT, Act, Scene, Thing, Track, plan_tracks, track_state


def test_track_state_hand_worked():
    track = Track(x0=10.0, y0=20.0, log_r0=math.log(4.0), angle0=0.0, alpha0=0.0, params=(
        ("fade", 0.0, 2.0, (1.0,)),              # appear over [0, 2)
        ("move", 2.0, 6.0, (8.0, 0.0)),          # 8 px right over [2, 6)
        ("scale", 6.0, 8.0, (math.log(2.0),)),   # radius doubles over [6, 8)
        ("spin", 8.0, 10.0, (math.pi / 2,)),     # quarter turn per second
        ("blink", 10.0, 12.0, (2.0,)),           # two on/off cycles
        ("bounce", 12.0, 14.0, (1.0, 5.0)),      # one 5 px hop
    ))
    s = track_state(track, np.array([0.0, 1.0, 2.0, 4.0, 6.0, 7.0, 9.0, 10.0, 10.6, 11.0, 13.0, 14.0, 20.0]))
    np.testing.assert_allclose(s["alpha"], [0, 0.5, 1, 1, 1, 1, 1, 1, 0, 1, 1, 1, 1])
    np.testing.assert_allclose(s["x"], [10, 10, 10, 14, 18, 18, 18, 18, 18, 18, 18, 18, 18])
    np.testing.assert_allclose(s["r"], [4, 4, 4, 4, 4, 4 * math.sqrt(2), 8, 8, 8, 8, 8, 8, 8])
    np.testing.assert_allclose(s["angle"][[6, 7, 12]], [math.pi / 2, math.pi, math.pi])
    np.testing.assert_allclose(s["y"], [20] * 10 + [15, 20, 20], atol=1e-9)


def _random_scene(rng, n_things=5, duration=30.0):
    b = SceneBuilder(rng, duration, 0.25)
    for _ in range(n_things):
        idx = b.add_thing(str(rng.choice(list(COLOURS))), str(rng.choice(SHAPES)))
        for _ in range(6):
            action, span = str(rng.choice(ACTION_KEYS)), b.sample_span(1.0, 12.0)
            if b.can_add(idx, action, *span):
                b.add_act(idx, action, *span)
    return b.build()


@pytest.mark.parametrize("seed", range(12))
def test_objects_stay_inside_the_frame(seed):
    rng = np.random.default_rng(seed)
    scene = _random_scene(rng)
    px = 64
    times = np.arange(0, scene.duration_sec, 0.25)
    for thing, track in zip(scene.things, plan_tracks(scene, rng, px, 4), strict=True):
        s = track_state(track, times)
        reach = s["r"] * EXTENT[thing.shape]
        assert np.all(s["x"] - reach >= -1e-6) and np.all(s["x"] + reach <= px + 1e-6)
        assert np.all(s["y"] - reach >= -1e-6) and np.all(s["y"] + reach <= px + 1e-6)
        assert np.all((s["r"] >= 0.07 * px - 1e-6) & (s["r"] <= 0.16 * px + 1e-6))


def test_builder_rules():
    b = SceneBuilder(np.random.default_rng(0), 20.0, 0.1)
    i = b.add_thing("red", "circle")
    b.add_act(i, "grow", 5.0, 8.0)
    assert not b.can_add(i, "spin", 7.0, 9.0)           # overlaps
    assert not b.can_add(i, "spin", 8.2, 9.0)           # closer than the gap
    assert not b.can_add(i, "appear", 9.0, 10.0)        # appear must come first
    assert not b.can_add(i, "disappear", 1.0, 2.0)      # disappear must come last
    assert not b.can_add(i, "spin", 15.0, 21.0)         # past the end
    b.add_act(i, "disappear", 12.0, 14.0)
    assert not b.can_add(i, "spin", 15.0, 16.0)         # invisible after disappearing
    b.add_act(i, "appear", 0.0, 2.0)
    with pytest.raises(ValueError, match="cannot spin"):
        b.add_act(i, "spin", 1.0, 3.0)
    assert [a.action for a in b.drafts[0].acts] == ["appear", "grow", "disappear"]


def test_windows_of_merges_touching_spans_of_look_alikes():
    scene = Scene(30.0, (Thing("red", "circle", (Act("spin", 1.0, 3.0), Act("spin", 10.0, 12.0))),
                         Thing("red", "circle", (Act("spin", 3.0, 5.0),)),
                         Thing("blue", "circle", (Act("spin", 20.0, 22.0),))))
    assert windows_of(scene, "red", "circle", "spin") == [(1.0, 5.0), (10.0, 12.0)]
    assert windows_of(scene, "red", "circle", "grow") == []


def test_static_circle_drawn_in_its_colour():
    scene = Scene(1.0, (Thing("red", "circle"),))
    track = Track(32.0, 32.0, math.log(8.0), 0.0, 1.0, ())
    backdrop = np.zeros((64, 64, 3), np.float32)
    frame = render_frames(scene, [track], backdrop, np.array([0.0]))[0]
    np.testing.assert_array_equal(frame[32, 32], np.round(np.array(COLOURS["red"]) * 255))
    np.testing.assert_array_equal(frame[2, 2], [0, 0, 0])
    assert 0.8 < (frame[..., 0] > 128).sum() / (math.pi * 64) < 1.2  # about the disc's area


def test_background_is_dark_and_static():
    img = background(np.random.default_rng(3), 32)
    assert img.shape == (32, 32, 3) and img.dtype == np.float32 and img.max() < 0.6


def _red_centroids(path):
    with av.open(str(path)) as c:
        frames = [f.to_ndarray(format="rgb24").astype(int) for f in c.decode(video=0)]
    out = []
    for f in frames:
        red = (f[..., 0] > 150) & (f[..., 1] < 100) & (f[..., 2] < 100)
        ys, xs = np.nonzero(red)
        out.append((xs.mean() if len(xs) else np.nan, ys.mean() if len(ys) else np.nan, red.sum()))
    return np.array(out)


@pytest.mark.parametrize("action,check", [
    ("move_left", lambda c: c[-1, 0] < c[0, 0] - 10),
    ("move_up", lambda c: c[-1, 1] < c[0, 1] - 10),
    ("grow", lambda c: c[-1, 2] > 1.8 * c[0, 2]),
    ("disappear", lambda c: c[0, 2] > 20 and c[-1, 2] == 0),
])
def test_decoded_video_shows_the_action(tmp_path, action, check):
    scene = Scene(3.0, (Thing("red", "circle", (Act(action, 0.5, 2.5),)), Thing("blue", "square")))
    path = tmp_path / "v.mp4"
    assert render_video(scene, path, np.random.default_rng(0), 64, 4) == 12
    assert check(_red_centroids(path))

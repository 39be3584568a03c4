"""Mini-world scenarios: captions need appearance and motion, TAL/COIN shapes, zero-shot splits (no rendering)."""

import numpy as np
import pytest

from unloc.study.miniworld.clips import frame_caption_pair, kinetics_actions, kinetics_clip
from unloc.study.miniworld.localization import coin_taxonomy, coin_video, tal_classes, tal_video, zero_shot_split
from unloc.study.miniworld.queries import anet_captions_video, charades_video, qvh_video, saliency
from unloc.study.miniworld.schedule import SceneBuilder, windows_of
from unloc.study.miniworld.sizes import SIZES, PairSize, SetSize
from unloc.study.miniworld.vocab import ACTION_BY_KEY, COLOURS, SHAPES, lookalikes, object_grid, tal_class_name
from unloc.study.miniworld.world import plan_tracks, track_state

SEEDS = range(12)


def _parse(text):
    """(colour, shape, verb phrase) of a generated caption."""
    words = text.lower().strip().rstrip(".").replace(" on the screen", "").split()
    for i, w in enumerate(words):
        if w in COLOURS and i + 1 < len(words) and words[i + 1] in SHAPES:
            rest = " ".join(words[i + 2:]).removeprefix("as it ")
            return w, words[i + 1], rest
    raise AssertionError(f"no colour + shape in {text!r}")


def _action(verb):
    return next(a.key for a in ACTION_BY_KEY.values() if a.verb == verb)


def _overlaps(a0, a1, b0, b1):
    return a0 < b1 and b0 < a1


def _check_distractors(scene, colour, action, windows):
    """Every window has a same-colour object acting otherwise and an other-colour object acting alike."""
    events = [(scene.things[i], a) for i, a in scene.events()]
    for s, e in windows:
        near = [(t, a) for t, a in events if _overlaps(a.start_sec, a.end_sec, s, e)]
        assert any(t.colour == colour and a.action != action for t, a in near), (colour, action, s, e)
        assert any(t.colour != colour and a.action == action for t, a in near), (colour, action, s, e)


@pytest.mark.parametrize("seed", SEEDS)
def test_charades_queries_unique_and_confusable(seed):
    spec = SetSize(4, 15.0, 30.0)
    scene, rec = charades_video(np.random.default_rng(seed), spec, 4)
    assert 2 <= len(rec["queries"]) <= 4 and len({q[0] for q in rec["queries"]}) == len(rec["queries"])
    for text, s, e in rec["queries"]:
        colour, shape, verb = _parse(text)
        action = _action(verb)
        assert windows_of(scene, colour, shape, action) == [(s, e)]  # exactly one window, the annotated one
        assert 0 <= s < e <= scene.duration_sec and abs(s * 10 - round(s * 10)) < 1e-6
        _check_distractors(scene, colour, action, [(s, e)])


@pytest.mark.parametrize("seed", SEEDS)
def test_qvhighlights_windows_on_clip_grid(seed):
    scene, rec = qvh_video(np.random.default_rng(seed), SetSize(4, 150.0, 150.0), 4)
    assert scene.duration_sec == 150.0 and 2 <= len(rec["queries"]) <= 3
    for q in rec["queries"]:
        colour, shape, verb = _parse(q["query"])
        action = _action(verb)
        windows = [tuple(w) for w in q["relevant_windows"]]
        assert windows_of(scene, colour, shape, action) == windows
        assert all(s % 2 == 0 and e % 2 == 0 and s < e for s, e in windows)
        assert q["relevant_clip_ids"] == [c for s, e in windows for c in range(s // 2, e // 2)]
        assert len(q["saliency_scores"]) == len(q["relevant_clip_ids"])
        assert all(len(x) == 3 and all(0 <= v <= 4 for v in x) for x in q["saliency_scores"])
        _check_distractors(scene, colour, action, windows)


def test_saliency_peaks_mid_window():
    rng = np.random.default_rng(0)
    centre, edge = [], []
    for _ in range(200):
        _, scores = saliency(rng, ((10.0, 30.0),))  # clips 5..14
        edge += scores[0] + scores[-1]
        centre += scores[4] + scores[5]
    assert np.mean(centre) > np.mean(edge) + 1.0


@pytest.mark.parametrize("seed", SEEDS)
def test_anet_captions_paragraph(seed):
    scene, rec = anet_captions_video(np.random.default_rng(seed), SetSize(4, 60.0, 120.0), 4)
    stamps, sentences = rec["timestamps"], rec["sentences"]
    assert len(stamps) == len(sentences) >= 2
    assert sentences[0][0].isupper() and all(s.startswith(" ") and s[1].isupper() for s in sentences[1:])
    assert stamps == sorted(stamps)
    covered = sum(e - s for s, e in stamps)
    assert covered > 0.5 * scene.duration_sec
    for (s, e), text in zip(stamps, sentences, strict=True):
        colour, shape, verb = _parse(text)
        assert windows_of(scene, colour, shape, _action(verb)) == [(s, e)]
        _check_distractors(scene, colour, _action(verb), [(s, e)])


def test_class_objects_need_colour_and_shape():
    tal = [(c, s) for c, s, _ in tal_classes()]
    kinetics = [(c, s) for c, s, _ in kinetics_actions()]
    assert tal == object_grid(0) and kinetics == object_grid(1)
    assert len(set(tal)) == len(set(kinetics)) == 20 and not set(tal) & set(kinetics)
    assert set(tal) | set(kinetics) == {(c, s) for c in COLOURS for s in SHAPES}
    for objects in (tal, kinetics):  # no word names a class alone
        assert all(sum(c == colour for c, _ in objects) == 2 for colour in COLOURS)
        assert all(sum(s == shape for _, s in objects) == 5 for shape in SHAPES)
    actions = {c: [a for cc, _, a in tal_classes() if cc == c] for c in COLOURS}
    assert all(len(set(a)) == 2 for a in actions.values())  # the two classes of a colour act differently
    assert all(a not in ("appear", "disappear") for _, _, a in tal_classes())
    assert [tal_class_name(*c) for c in tal_classes()[:3]] == [
        "red circle moving left", "red triangle moving right", "green square moving up"]


def test_lookalikes_share_one_word_and_avoid_the_classes():
    avoid = set(object_grid(0))
    for seed in range(20):
        (c1, s1), (c2, s2) = lookalikes(np.random.default_rng(seed), "red", "circle", avoid)
        assert c1 == "red" and s1 != "circle" and s2 == "circle" and c2 != "red"
        assert (c1, s1) not in avoid and (c2, s2) not in avoid
    with pytest.raises(ValueError, match="no look-alike"):
        lookalikes(np.random.default_rng(0), "red", "circle", {("red", s) for s in SHAPES})


def test_tal_videos_have_varied_overlapping_instances():
    spec = SetSize(4, 30.0, 60.0)
    names = {tal_class_name(*c) for c in tal_classes()}
    class_objects = {(c, s) for c, s, _ in tal_classes()}
    fractions, any_overlap = [], False
    for seed in range(60):
        scene, rec = tal_video(np.random.default_rng(seed), spec, 4)
        segs = [a["segment"] for a in rec["annotations"]]
        assert len(segs) == len(scene.events()) and {a["label"] for a in rec["annotations"]} <= names
        assert all(0 <= s and s + 1.0 - 1e-6 <= e <= scene.duration_sec for s, e in segs)
        fractions += [(e - s) / scene.duration_sec for s, e in segs]
        any_overlap |= any(_overlaps(*a, *b) for i, a in enumerate(segs) for b in segs[i + 1:])
        acting = {tuple(a["label"].split()[:2]) for a in rec["annotations"]}
        still = [(t.colour, t.shape) for t in scene.things if not t.acts]
        for thing in scene.things:
            if thing.acts:  # an actor: on screen around its act only, at most 2 s either side
                (act,) = thing.acts
                assert act.start_sec - 2.0 - 1e-6 <= thing.shown[0] <= act.start_sec
                assert act.end_sec <= thing.shown[1] <= act.end_sec + 2.0 + 1e-6
            else:  # a still look-alike, on screen throughout, never a class object
                assert thing.shown is None and (thing.colour, thing.shape) not in class_objects
        for colour, shape in acting:  # each acting class has a look-alike of its colour and one of its shape
            assert any(c == colour and s != shape for c, s in still)
            assert any(c != colour and s == shape for c, s in still)
    assert any_overlap and min(fractions) < 0.05 and max(fractions) > 0.6


def test_actor_is_drawn_only_while_shown():
    rng = np.random.default_rng(0)
    b = SceneBuilder(rng, 10.0, 0.25)
    b.add_act(b.add_thing("red", "circle", (2.0, 6.0)), "spin", 3.0, 5.0)
    scene = b.build()
    (track,) = plan_tracks(scene, rng, 64, 4)
    alpha = track_state(track, np.array([0.0, 1.99, 2.0, 4.0, 5.99, 6.0, 9.0]))["alpha"]
    np.testing.assert_array_equal(alpha, [0, 0, 1, 1, 1, 0, 0])


def test_zero_shot_splits():
    classes = [tal_class_name(*c) for c in tal_classes()]
    for frac, n_unseen in ((0.75, 5), (0.5, 10)):
        splits = [zero_shot_split(0, frac, k) for k in range(3)]
        assert len({tuple(s["unseen"]) for s in splits}) == 3
        assert zero_shot_split(0, frac, 1) == splits[1]
        for s in splits:
            assert len(s["unseen"]) == n_unseen and sorted(s["seen"] + s["unseen"]) == sorted(classes)
            seen_words = {w for name in s["seen"] for w in name.split()[:2]}
            assert all(set(name.split()[:2]) <= seen_words for name in s["unseen"])  # unseen combinations only


def test_coin_steps_in_order_with_background():
    tasks = coin_taxonomy(0)
    steps = [step for t in tasks for step in t.steps]
    assert [i for i, *_ in steps] == list(range(len(steps)))
    step_objects = {(colour, shape) for _, colour, shape, *_ in steps}
    step_colours = {colour for colour, _ in step_objects}
    assert len(step_objects) == len(steps) and len(step_colours) == 5  # own objects; colours repeat across steps
    background = []
    for seed in range(30):
        scene, rec = coin_video(np.random.default_rng(seed), SIZES["default"].coin, 4, tasks)
        task = rec["task"]
        ids = [int(a["id"]) for a in rec["annotation"]]
        assert ids == sorted(ids) and set(ids) <= {i for i, *_ in task.steps}
        labels = {i: label for i, *_, label in task.steps}
        assert all(labels[int(a["id"])] == a["label"] for a in rec["annotation"])
        assert rec["start"] <= rec["annotation"][0]["segment"][0] and rec["end"] >= rec["annotation"][-1]["segment"][1]
        step_events = [(t, a) for t in scene.things for a in t.acts if (t.colour, t.shape) in step_objects]
        assert len(step_events) == len(ids)  # only the steps' own objects are step objects
        assert all(t.shown is not None for t, _ in step_events)
        others = [t for t in scene.things if (t.colour, t.shape) not in step_objects]
        assert others and all(t.colour in step_colours for t in others)  # look-alikes of the step colours
        background.append(1 - sum(e - s for s, e in (a["segment"] for a in rec["annotation"])) / scene.duration_sec)
    assert 0.5 < np.mean(background) < 0.7


@pytest.mark.parametrize("seed", range(6))
def test_kinetics_clip_is_mostly_action(seed):
    size = SIZES["default"]
    scene, rec = kinetics_clip(np.random.default_rng(seed), size)
    assert rec["time_end"] - rec["time_start"] == scene.duration_sec
    (idx, act), = scene.events()
    actor = scene.things[idx]
    assert rec["label"] == f"{actor.colour} {actor.shape} {ACTION_BY_KEY[act.action].gerund}"
    others = [(t.colour, t.shape) for t in scene.things if t is not actor]
    assert not set(others) & {(c, s) for c, s, _ in kinetics_actions()}  # no other class object
    assert any(c == actor.colour for c, _ in others) and any(s == actor.shape for _, s in others)
    assert act.end_sec - act.start_sec >= 0.75 * scene.duration_sec - 0.25


def test_pair_frames_and_captions():
    size = SIZES["tiny"]
    size = type(size)(**{**size.__dict__, "pairs": PairSize(4, 3)})
    frames, rec = frame_caption_pair(np.random.default_rng(0), size)
    assert frames.shape == (3, 32, 32, 3) and frames.dtype == np.uint8
    assert _parse(rec["caption"])[:2] == (rec["colour"], rec["shape"])
    assert ACTION_BY_KEY[rec["action"]].verb in rec["caption"] and len(rec["time_sec"]) == 3

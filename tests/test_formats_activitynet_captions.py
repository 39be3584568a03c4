"""ActivityNet Captions json reader on real excerpts that keep the reversed, past-the-end and zero-length records."""

import json
from pathlib import Path

import pytest

from unloc.data.formats import AnnotationError
from unloc.data.formats.activitynet_captions import read_activitynet_captions

FIXTURES = Path(__file__).parent / "fixtures" / "annotations" / "activitynet_captions"
TRAIN = FIXTURES / "train.json"


def _reference(path: Path) -> dict:
    """Query ids and quirk counts computed directly from the json, independently of the reader."""
    data = json.loads(path.read_text())
    pairs = [(v["duration"], t, s) for v in data.values() for t, s in zip(v["timestamps"], v["sentences"])]
    return {
        "records": len(pairs),
        "reversed": sum(t[0] > t[1] for _, t, _ in pairs),
        "past_end": sum(max(t) - d > 1e-6 for d, t, _ in pairs),
        "zero_length": [i for i, (_, t, _) in enumerate(pairs) if t[0] == t[1]],
        "untrimmed": sum(s != s.strip() for _, _, s in pairs),
    }


def test_train_excerpt_quirks_match_an_independent_count():
    ann = read_activitynet_captions(TRAIN)
    ref = _reference(TRAIN)
    assert ann.num_records == ref["records"] == 56 and len(ann.videos) == 13
    counts = ann.quirks.counts
    assert counts["reversed_segment"] == ref["reversed"] == 2
    assert counts["past_end"] == ref["past_end"] == 3
    assert counts["untrimmed_text"] == ref["untrimmed"]
    assert counts["empty_segment"] == counts["dropped_query"] == len(ref["zero_length"]) == 2
    # positional ids skip the dropped zero-length sentences and keep the others in place
    assert [q.query_id for q in ann.queries] == [i for i in range(56) if i not in ref["zero_length"]]


def test_train_excerpt_hand_worked_records():
    ann = read_activitynet_captions(TRAIN)
    by_id = {q.query_id: q for q in ann.queries}
    assert by_id[40].video_id == "v_0bosp4-pyTM" and by_id[40].windows == ((60.71, 61.29),)  # was [61.29, 60.71]
    assert by_id[52].video_id == "v_rhOtqArO-3Y" and by_id[52].windows == ((150.31, 173.44),)
    assert by_id[24].windows == ((0.0, 61.13),)  # end 61.14 clipped to the duration 61.13
    assert by_id[23].windows == ((57.64, 70.28999999999999),)  # 70.29 vs 70.28999999999999: float noise
    assert by_id[22].text.startswith("He lays back")  # leading space stripped
    assert 32 not in by_id and 35 not in by_id  # [34.77, 34.77] and [4.97, 4.97]
    video = ann.videos["v_0bosp4-pyTM"]
    assert video.duration_sec == 115.64 and video.split == "train" and len(video.segments) == 10
    assert video.segments[3].caption == by_id[40].text and video.segments[3].query_id == 40


def test_val_1_excerpt_and_strict_mode():
    ann = read_activitynet_captions(FIXTURES / "val_1.json")
    assert len(ann.videos) == 5 and len(ann.queries) == 15 and ann.quirks.count("past_end") == 1
    assert ann.videos["v_EGLJPCJnG64"].segments[-1].end_sec == 89.71000000000001
    assert {q.split for q in ann.queries} == {"val_1"}
    with pytest.raises(AnnotationError, match=r"val_1.json: video v_uqiMw7tQ1Cc sentence 1 \(query 1\).*strict"):
        read_activitynet_captions(FIXTURES / "val_1.json", strict=True)


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"duration": 10, "timestamps": [[0, 1]], "sentences": []}, "1 timestamps but 0 sentences"),
        ({"timestamps": [], "sentences": []}, "needs `duration`"),
        ({"duration": 0, "timestamps": [], "sentences": []}, "duration must be positive"),
        ({"duration": 10, "timestamps": [[0, "x"]], "sentences": ["a"]}, "segment end must be a number, got 'x'"),
    ],
)
def test_bad_records_name_file_and_video(tmp_path, entry, message):
    path = tmp_path / "train.json"
    path.write_text(json.dumps({"v_ok": {"duration": 5, "timestamps": [[0, 1]], "sentences": ["ok"]}, "v_bad": entry}))
    with pytest.raises(AnnotationError, match=f"train.json: video v_bad.*{message}"):
        read_activitynet_captions(path)

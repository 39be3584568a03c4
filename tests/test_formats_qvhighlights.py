"""QVHighlights jsonl reader on a real excerpt (tests/fixtures/annotations/qvhighlights)."""

import json
import math
import re
from pathlib import Path

import pytest

from unloc.data.formats import AnnotationError
from unloc.data.formats.qvhighlights import CLIP_SEC, read_qvhighlights, split_from_filename

FIXTURES = Path(__file__).parent / "fixtures" / "annotations" / "qvhighlights"
VAL = FIXTURES / "highlight_val_release.jsonl"


def test_val_excerpt_queries_windows_and_ids():
    ann = read_qvhighlights(VAL)
    rows = [json.loads(line) for line in VAL.read_text().splitlines()]
    assert ann.format == "qvhighlights" and ann.num_records == len(rows) == 18
    assert [q.query_id for q in ann.queries] == [r["qid"] for r in rows]  # official qid, file order
    assert all(q.split == "val" for q in ann.queries) and not ann.quirks.counts
    by_id = {q.query_id: q for q in ann.queries}
    assert by_id[5342].windows == ((56.0, 76.0), (96.0, 150.0))
    assert by_id[8737].duration_sec == 126.0 and by_id[8737].video_id == "bP5KfdFJzC4_660.0_810.0"
    assert by_id[8462].text == "a young woman dances in defferent outfits"  # text kept verbatim
    assert ann.num_segments == sum(len(r["relevant_windows"]) for r in rows) == 40
    video = ann.videos["NUsG9BgSes0_360.0_510.0"]
    assert [(s.start_sec, s.end_sec, s.query_id) for s in video.segments] == [(56.0, 76.0, 5342), (96.0, 150.0, 5342)]


def test_saliency_clips_match_the_windows_on_the_2s_grid():
    for q in read_qvhighlights(VAL).queries:
        covered = {i for s, e in q.windows for i in range(int(s // CLIP_SEC), math.ceil(e / CLIP_SEC))}
        assert set(q.saliency_clip_idx) == covered, q.query_id
        assert len(q.saliency_scores) == len(q.saliency_clip_idx)
        assert all(len(s) == 3 and all(0 <= v <= 4 for v in s) for s in q.saliency_scores)


def test_test_release_has_queries_without_ground_truth():
    ann = read_qvhighlights(FIXTURES / "highlight_test_release.jsonl")
    assert len(ann.queries) == 5 and ann.queries[0].query_id == 3158
    assert all(q.windows == () and q.saliency_clip_idx == () and q.split == "test" for q in ann.queries)
    assert ann.num_segments == 0 and not ann.quirks.counts


def test_split_from_name_and_split_filter():
    assert split_from_filename(Path("highlight_train_release.jsonl")) == "train"
    assert split_from_filename(Path("highlight_test_with_gt.jsonl")) == "test"
    assert split_from_filename(Path("my_queries.jsonl")) is None
    assert read_qvhighlights(VAL, split="train").queries == ()
    assert len(read_qvhighlights(VAL, split="val").queries) == 18


def _write(tmp_path: Path, rows: list) -> Path:
    path = tmp_path / "highlight_val_release.jsonl"
    path.write_text("\n".join(r if isinstance(r, str) else json.dumps(r) for r in rows) + "\n")
    return path


GOOD = {"qid": 1, "query": "a cat", "duration": 10, "vid": "v", "relevant_windows": [[2, 4]],
        "relevant_clip_ids": [1], "saliency_scores": [[1, 2, 3]]}


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ("{not json", "not valid JSON"),
        ({"qid": 2, "query": "x", "vid": "v"}, "a QVHighlights record needs"),
        ({**GOOD, "qid": 2, "duration": 12}, "video 'v' has duration 12.0, earlier 10.0"),
        ({**GOOD, "qid": 2, "relevant_clip_ids": [5]}, r"relevant_clip_ids must be integers in \[0, 5\)"),
        ({**GOOD, "qid": 2, "saliency_scores": []}, "same length"),
        ({**GOOD, "qid": 1}, "duplicate query id 1"),
    ],
)
def test_bad_lines_name_file_and_line(tmp_path, bad, message):
    path = _write(tmp_path, [GOOD, bad])
    with pytest.raises(AnnotationError, match=f"{re.escape(str(path))}: line 2.*{message}"):
        read_qvhighlights(path)


def test_reversed_window_is_swapped_or_raises_in_strict_mode(tmp_path):
    path = _write(tmp_path, [{**GOOD, "relevant_windows": [[4, 2], [6, 12]]}])
    ann = read_qvhighlights(path)
    assert ann.queries[0].windows == ((2.0, 4.0), (6.0, 10.0))
    assert ann.quirks.counts == {"reversed_segment": 1, "past_end": 1}
    with pytest.raises(AnnotationError, match=r"line 1 \(qid 1\): \[4.0, 2.0\] swapped"):
        read_qvhighlights(path, strict=True)

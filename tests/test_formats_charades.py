"""Charades-STA txt reader on a real excerpt, durations from the Charades metadata csv excerpt."""

import csv
import re
from pathlib import Path

import pytest

from unloc.data.formats import AnnotationError
from unloc.data.formats.charades_sta import load_charades_durations, read_charades_sta

FIXTURES = Path(__file__).parent / "fixtures" / "annotations" / "charades_sta"
TRAIN = FIXTURES / "charades_sta_train.txt"


def _reference_past_end(txt: Path, csv_path: Path) -> int:
    """Lines whose later time exceeds the video's `length`, counted independently of the reader."""
    with open(csv_path, newline="") as f:
        length = {row["id"]: float(row["length"]) for row in csv.DictReader(f)}
    count = 0
    for line in txt.read_text().splitlines():
        video_id, start, end = line.split("##")[0].split()
        count += max(float(start), float(end)) > length[video_id] + 1e-6
    return count


def test_train_excerpt_ids_durations_and_quirks():
    ann = read_charades_sta(TRAIN)
    assert ann.format == "charades_sta" and ann.num_records == 24 and len(ann.videos) == 13
    # query id = 0-based line number; lines 21, 23, 24 (LEOL6, AKKWU x2) are reversed and past the end: dropped
    assert [q.query_id for q in ann.queries] == [*range(20), 21]
    by_id = {q.query_id: q for q in ann.queries}
    assert by_id[0].windows == ((0.0, 6.9),) and by_id[0].duration_sec == 33.67
    assert by_id[1].windows == ((20.8, 29.42),)  # end 30.0 clipped to length 29.42
    assert by_id[21].windows == ((12.0, 20.9),) and by_id[21].video_id == "IOL8Q"  # swapped
    assert by_id[21].text == "a person is throwing a bag out of the room."
    counts = ann.quirks.counts
    assert counts["reversed_segment"] == 4 and counts["empty_segment"] == 3 and counts["dropped_query"] == 3
    assert counts["past_end"] == _reference_past_end(TRAIN, FIXTURES / "Charades_v1_train.csv") == 7
    assert all(0 <= s < e <= q.duration_sec for q in ann.queries for s, e in q.windows)
    assert ann.videos["LEOL6"].segments == () and ann.videos["LEOL6"].duration_sec == 6.25


def test_test_excerpt_reads_both_metadata_files():
    ann = read_charades_sta(FIXTURES / "charades_sta_test.txt")
    assert len(ann.queries) == 12 and {q.split for q in ann.queries} == {"test"}
    assert ann.queries[0].windows == ((24.3, 30.4),) and ann.queries[0].video_id == "3MSZA"


def test_durations_can_be_passed_explicitly():
    durations = load_charades_durations([FIXTURES / "Charades_v1_train.csv"])
    assert durations["Y6R7T"] == 29.42 and len(durations) == 13
    ann = read_charades_sta(TRAIN, durations={**durations, "Y6R7T": 40.0})
    assert ann.queries[1].windows == ((20.8, 30.0),)


def test_strict_mode_stops_at_the_first_quirk():
    with pytest.raises(AnnotationError, match=r"charades_sta_train.txt: line 2 \(query 1\): end 30.0 clipped"):
        read_charades_sta(TRAIN, strict=True)


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("AO8RW 0.0 6.9 a person reads.", "expected 'VIDEO_ID start end##sentence'"),
        ("AO8RW 0.0##a person reads.", "expected 'VIDEO_ID start end##sentence'"),
        ("AO8RW zero 6.9##a person reads.", "start is not a finite number: 'zero'"),
        ("ZZZZZ 0.0 6.9##a person reads.", "video ZZZZZ has no duration"),
        ("AO8RW 0.0 6.9##   ", "sentence is empty"),
    ],
)
def test_bad_lines_name_file_and_line(tmp_path, line, message):
    (tmp_path / "Charades_v1_train.csv").write_text((FIXTURES / "Charades_v1_train.csv").read_text())
    path = tmp_path / "charades_sta_train.txt"
    path.write_text("AO8RW 0.0 6.9##a person is putting a book on a shelf.\n\n" + line + "\n")
    with pytest.raises(AnnotationError, match=f"{re.escape(str(path))}: line 3.*{message}"):
        read_charades_sta(path)


def test_missing_metadata_is_explained(tmp_path):
    path = tmp_path / "charades_sta_test.txt"
    path.write_text("3MSZA 24.3 30.4##person turn a light on.\n")
    with pytest.raises(AnnotationError, match=r"Charades_v1_\*.csv"):
        read_charades_sta(path)

"""Input quirks of evaluation: every input the official scripts tolerate but that is not plain, counted with examples.

Each kind below says what the official script does with it (moment_detr `standalone_eval/eval.py` for QVHighlights,
ActivityNet `Evaluation/eval_detection.py` for temporal localization, UnLoc's metrics for the rest) and what `unloc eval`
does, which is the same wherever the official script gives a number. `QuirkLog` counts them for the output's
`input_quirks` ({kind: {count, examples}}, examples naming the file and line or record); with `strict=True` every
prediction-file quirk is an error naming the file and line instead. Ground-truth quirks (`gt.*`: the reader's counts
of `unloc.data.formats.quirks`, read as given) are reported but never strict: they are the benchmark's own files.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from unloc.data.formats.quirks import MAX_EXAMPLES, finite_number, input_error
from unloc.data.records import QuirkReport

QUIRKS: dict[str, str] = {
    "pred.reversed_window": "a window with end < start: IoU computed as given, as the official formula does (it "
                            "matches nothing, except a mirror image of a ground truth: 0/0, a match)",
    "pred.zero_length_window": "a window with start == end: computed as given",
    "pred.zero_length_match": "a prediction whose IoU with a ground truth is 0/0 (both of zero length, or a reversed "
                              "window mirroring it): the official scripts match it at every threshold; reproduced",
    "pred.negative_window": "a window that starts before 0 s: computed as given",
    "pred.empty_window_list": "an empty list of windows or detections: MR counts the query as a miss (the official "
                              "QVHighlights script crashes on it in R1); TAL: no detections for the video",
    "pred.windows_beyond_read": "QVHighlights: more than 10 windows on a line: MR-mAP reads the first 10 in file "
                                "order and R1 the first, as official; R@k ranks them all",
    "pred.missing_id": "a ground-truth id without a prediction: TAL and seg: nothing detected; MR (Charades-STA, "
                       "ActivityNet Captions): a miss",
    "pred.unknown_id": "TAL: predictions for a video outside the evaluated ground truth: false positives, as official",
    "pred.duplicate_id": "an id twice: TAL and seg json: the last list wins (Python's json, as official); QVHighlights: "
                         "MR-mAP pools the first 10 windows of every line, R1, HL and R@k take the last line, as "
                         "official",
    "pred.duplicate_key": "a key repeated inside a JSON object: the last value wins (Python's json, as official)",
    "pred.id_type": "QVHighlights: a qid written as a float (2579.0) equals the integer qid in the official "
                    "script's dict and set; taken as that query",
    "pred.vid_mismatch": "QVHighlights: a `vid` other than the ground truth's: ignored, as official (the qid decides)",
    "pred.bool_as_number": "true/false where a number is expected: 1/0, as Python arithmetic in the official script",
    "pred.number_as_string": "TAL: a segment bound written as text (\"12.5\"): read with float(), as official",
    "pred.score_as_string": "TAL: scores written as text: the official script ranks a class's text scores as text "
                            "(\"9\" above \"10\"); reproduced (mixed text and numbers in a class crash it: an error)",
    "pred.extra_values": "a window or segment with more values than read: the extra values are ignored, as official",
    "pred.extra_keys": "keys the official script never reads: ignored",
    "pred.missing_submission_fields": "TAL: no `version` or `external_data`: the official script raises IOError; "
                                      "no number depends on them, so the file is evaluated",
    "pred.label_without_ground_truth": "TAL: a label with no ground truth in the evaluated subset: the official "
                                       "script crashes (KeyError); such detections cannot enter any class's AP, "
                                       "so they are dropped",
    "pred.blocked_video": "TAL: predictions for a blocked video are dropped, as official",
    "pred.blank_line": "a blank line in a JSON-lines file: the official loader crashes (json.loads('')); skipped",
    "pred.saliency_ignored": "QVHighlights: the first line has no `pred_saliency_scores`: the official script skips "
                             "every HL metric; so does unloc",
    "pred.windows_ignored": "QVHighlights: the first line has no `pred_relevant_windows`: the official script skips "
                            "every MR metric; so does unloc",
    "pred.saliency_length_mismatch": "QVHighlights: saliency scores not one per 2-s clip: zero-padded or cut to the "
                                     "clip count, as official (Hit1 reads the whole list)",
    "pred.outside_split": "seg: scores for a ground-truth video outside the evaluated split: ignored",
}


@dataclass
class QuirkLog:
    """Counts input quirks by kind with the first few examples; `strict` turns prediction quirks into errors.

    Attributes:
        strict: raise an `EvalInputError` naming the file and line on the first prediction-file quirk.
        source: the prediction file, for quirks found where only arrays are at hand.
        counts: kind -> occurrences.
        examples: kind -> up to `MAX_EXAMPLES` "file: where: detail" strings.
    """

    strict: bool = False
    source: str = "<predictions>"
    counts: dict[str, int] = field(default_factory=dict)
    examples: dict[str, list[str]] = field(default_factory=dict)

    def add(self, kind: str, source: str | Path, where: str, detail: str, count: int = 1) -> None:
        """Count `count` occurrences of `kind`, the first of them at `where` in `source`."""
        if count <= 0:
            return
        if not kind.startswith("gt.") and kind not in QUIRKS:
            raise KeyError(f"unknown input quirk {kind!r}; add it to QUIRKS")
        if self.strict and not kind.startswith("gt."):
            raise input_error(source, where, f"{detail} [{kind}; an error with --strict; by default: {QUIRKS[kind]}]")
        self.counts[kind] = self.counts.get(kind, 0) + count
        examples = self.examples.setdefault(kind, [])
        if len(examples) < MAX_EXAMPLES:
            examples.append(f"{Path(source).name}: {where}: {detail}" if where else f"{Path(source).name}: {detail}")

    def add_each(self, kind: str, source: str | Path, items: list[tuple[str, str]], total: int) -> None:
        """Count `total` occurrences of `kind`; `items` (non-empty when total > 0) gives (where, detail) of the first
        few."""
        for where, detail in items[:MAX_EXAMPLES]:
            self.add(kind, source, where, detail)
        rest = total - min(len(items), MAX_EXAMPLES)
        if rest > 0:
            self.counts[kind] = self.counts.get(kind, 0) + rest

    def number(self, value: object, source: str | Path, where: str, what: str) -> float:
        """A JSON number as the official scripts' arithmetic reads it: true/false are 1/0 (`pred.bool_as_number`,
        counted); anything else must be a finite number."""
        if isinstance(value, bool):
            self.add("pred.bool_as_number", source, where, f"{what} is {value}; read as {int(value)}")
            return float(value)
        return finite_number(value, source, where, what)

    def add_report(self, report: QuirkReport) -> None:
        """Take over a ground-truth reader's counts as `gt.<name>` (never strict)."""
        for name, count in report.counts.items():
            self.counts[f"gt.{name}"] = self.counts.get(f"gt.{name}", 0) + count
            self.examples.setdefault(f"gt.{name}", []).extend(report.examples.get(name, ())[:MAX_EXAMPLES])

    def as_dict(self) -> dict[str, dict[str, object]]:
        """{kind: {"count": n, "examples": [...]}} sorted by kind, for the output JSON."""
        return {k: {"count": n, "examples": self.examples.get(k, [])} for k, n in sorted(self.counts.items())}

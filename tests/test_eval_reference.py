"""Straightforward loop implementations of every evaluation metric, written from the official algorithms' descriptions.

They are the references that the vectorized `unloc.eval` is compared with on random inputs (tests/test_eval_*.py) and
the baseline that benchmarks/bench_eval.py times. They are deliberately plain: one prediction at a time, explicit tie
rules, no vectorization. The tests at the bottom check the references themselves on hand-worked numbers.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

QVH_IOUS = [0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95]
ANET_IOUS = np.linspace(0.5, 0.95, 10).tolist()  # the official thresholds, exactly


def ref_tiou(pred, gt):
    """Official tIoU; a 0/0 pair (two zero-length segments) is NaN as in the official scripts."""
    inter = max(0.0, min(pred[1], gt[1]) - max(pred[0], gt[0]))
    union = (gt[1] - gt[0]) + (pred[1] - pred[0]) - inter
    if union == 0:
        return math.nan if inter == 0 else math.inf
    return inter / union


def ref_interpolated_ap(tp_flags, num_gt):
    """VOC-2011 interpolated AP of a ranked list of true/false positives."""
    precision, recall, tp = [], [], 0
    for i, flag in enumerate(tp_flags, start=1):
        tp += flag
        precision.append(tp / i)
        recall.append(tp / num_gt)
    mprec, mrec = [0.0] + precision + [0.0], [0.0] + recall + [1.0]
    for i in range(len(mprec) - 2, -1, -1):
        mprec[i] = max(mprec[i], mprec[i + 1])
    return sum((mrec[i] - mrec[i - 1]) * mprec[i] for i in range(1, len(mrec)) if mrec[i] != mrec[i - 1])


def ref_detection_ap(gt, preds, thresholds, later_first_on_score_ties):
    """ActivityNet AP of one class (or one QVHighlights query).

    Args:
        gt: list of (video, start, end) in ground-truth order.
        preds: list of (video, start, end, score) in file order.
        later_first_on_score_ties: ActivityNet's argsort()[::-1] (True) or Python's stable sort (False).
    """
    if not preds:
        return [0.0] * len(thresholds)
    by_video = {}
    for j, (video, start, end) in enumerate(gt):
        by_video.setdefault(video, []).append((j, start, end))
    order = sorted(range(len(preds)), key=lambda i: (-preds[i][3], -i if later_first_on_score_ties else i))
    flags = [[] for _ in thresholds]
    taken = [set() for _ in thresholds]
    for i in order:
        video, start, end, _ = preds[i]
        candidates = [(ref_tiou((start, end), (gs, ge)), j) for j, gs, ge in by_video.get(video, [])]
        # official walk order: tIoU descending with NaN first, the later ground truth first on ties
        candidates.sort(key=lambda c: (0, 0.0, -c[1]) if math.isnan(c[0]) else (1, -c[0], -c[1]))
        for t, thr in enumerate(thresholds):
            hit = False
            for value, j in candidates:
                if value < thr:  # False for NaN: the official code then takes that ground truth
                    break
                if j in taken[t]:
                    continue
                taken[t].add(j)
                hit = True
                break
            flags[t].append(hit)
    return [ref_interpolated_ap(f, len(gt)) for f in flags]


def ref_anet_ap(database, results, split="validation", blocked=()):
    """Per-class AP (dict label -> list over ANET_IOUS) of an ActivityNet submission."""
    classes, gt = [], {}
    for vid, video in database.items():
        if video["subset"] != split or vid in blocked:
            continue
        for ann in video["annotations"]:
            if ann["label"] not in gt:
                classes.append(ann["label"])
                gt[ann["label"]] = []
            gt[ann["label"]].append((vid, float(ann["segment"][0]), float(ann["segment"][1])))
    preds = {c: [] for c in classes}
    for vid, items in results.items():
        if vid in blocked:
            continue
        for item in items:
            if item["label"] in preds:
                preds[item["label"]].append((vid, *map(float, item["segment"]), item["score"]))
    return {c: ref_detection_ap(gt[c], preds[c], ANET_IOUS, True) for c in classes}


def ref_recall(gt_windows, pred_windows, ks=(1, 5), ious=(0.3, 0.5, 0.7)):
    """R@k and mIoU in percent; pred_windows[i] is a list of [start, end, score] or None."""
    out = {f"R{k}@{t}": 0.0 for k in ks for t in ious}
    out["mIoU"] = 0.0
    for gts, preds in zip(gt_windows, pred_windows):
        ranked = sorted(preds or [], key=lambda w: -w[2])  # stable: file order on equal scores
        best = [max(max(0.0, ref_tiou(w, g)) if not math.isnan(ref_tiou(w, g)) else 0.0 for g in gts) for w in ranked]
        for k in ks:
            for t in ious:
                out[f"R{k}@{t}"] += 100.0 * any(b >= t for b in best[:k]) / len(gt_windows)
        out["mIoU"] += 100.0 * (best[0] if best else 0.0) / len(gt_windows)
    return out


def ref_saliency_ap(labels, scores):
    """QVHighlights get_ap: mean interpolated precision over score thresholds that add recall (ties grouped)."""
    if len(set(labels)) == 1:
        return float(labels[0])
    order = sorted(range(len(scores)), key=lambda i: -scores[i])
    points, tp, i = [], 0, 0  # (precision, recall) per distinct threshold, highest first
    while i < len(order):
        j = i
        while j < len(order) and scores[order[j]] == scores[order[i]]:
            tp += labels[order[j]]
            j += 1
        points.append((tp / j, tp / sum(labels)))
        i = j
    values, last_recall = [], 0.0
    for k, (_, rec) in enumerate(points):
        if rec != last_recall:
            values.append(max(p for p, _ in points[k:]))
        last_recall = rec
    return sum(values) / len(values)


def _round_pct(x):
    return None if x is None else float(f"{100 * x:.2f}")


def ref_qvh_brief(gt_rows, pred_rows):
    """QVHighlights official brief metrics from raw jsonl rows (missing queries count as misses)."""
    preds = {p["qid"]: p for p in pred_rows}
    out = {}
    for name, lo, hi in [("full", 0, 150), ("short", 0, 10), ("middle", 10, 30), ("long", 30, 150)]:
        aps = []
        for g in gt_rows:
            wins = [w for w in g["relevant_windows"] if name == "full" or lo < w[1] - w[0] <= hi]
            if wins:
                windows = preds.get(g["qid"], {}).get("pred_relevant_windows", [])[:10]
                aps.append(ref_detection_ap([(0, *w) for w in wins], [(0, *w) for w in windows], QVH_IOUS, False))
        per_thr = [sum(a[t] for a in aps) / len(aps) for t in range(len(QVH_IOUS))] if aps else None
        out[f"MR-{name}-mAP"] = _round_pct(sum(per_thr) / len(per_thr) if per_thr else None)
        if name == "full":
            out["MR-full-mAP@0.5"], out["MR-full-mAP@0.75"] = _round_pct(per_thr[0]), _round_pct(per_thr[5])
    ious = []
    for g in gt_rows:
        windows = preds.get(g["qid"], {}).get("pred_relevant_windows", [])
        if not windows:
            ious.append(0.0)
            continue
        first = windows[0][:2]
        overlaps = [ref_tiou(first, w) for w in g["relevant_windows"]]
        best = next((j for j, v in enumerate(overlaps) if math.isnan(v)), overlaps.index(max(overlaps)))
        target = g["relevant_windows"][best]
        hull = max(first[1], target[1]) - min(first[0], target[0])
        inter = max(0.0, min(first[1], target[1]) - max(first[0], target[0]))
        ious.append(inter / hull if hull else 0.0)
    for thr in (0.5, 0.7):
        out[f"MR-full-R1@{thr}"] = _round_pct(sum(v >= thr for v in ious) / len(ious))
    if not any("pred_saliency_scores" in p for p in pred_rows):
        return out
    for level, min_score in [("Fair", 2), ("Good", 3), ("VeryGood", 4)]:
        ap_sum = hit_sum = 0.0
        for g in gt_rows:
            n_clips = int(g["duration"] / 2)
            full = [[0, 0, 0] for _ in range(n_clips)]
            for clip, row in zip(g["relevant_clip_ids"], g["saliency_scores"]):
                full[clip] = row
            if g["qid"] not in preds:
                continue
            raw = preds[g["qid"]]["pred_saliency_scores"]
            scores = (raw + [0.0] * n_clips)[:n_clips]
            for a in range(3):
                ap_sum += ref_saliency_ap([int(full[c][a] >= min_score) for c in range(n_clips)], scores)
            top = raw.index(max(raw))
            hit_sum += top < n_clips and any(v >= min_score for v in full[top])
        out[f"HL-min-{level}-mAP"] = _round_pct(ap_sum / (3 * len(gt_rows)))
        out[f"HL-min-{level}-Hit1"] = _round_pct(hit_sum / len(gt_rows))
    return out


def ref_segments(labels):
    """MS-TCN get_labels_start_end_time with background -1."""
    segs, last, start = [], labels[0], 0
    for i in range(1, len(labels)):
        if labels[i] != last:
            if last != -1:
                segs.append((last, start, i))
            last, start = labels[i], i
    if last != -1:
        segs.append((last, start, len(labels) - 1))
    return segs


def ref_edit(pred, gt):
    p, y = [s[0] for s in ref_segments(pred)], [s[0] for s in ref_segments(gt)]
    if not p and not y:
        return 100.0
    d = [[0] * (len(y) + 1) for _ in range(len(p) + 1)]
    for i in range(len(p) + 1):
        d[i][0] = i
    for j in range(len(y) + 1):
        d[0][j] = j
    for i in range(1, len(p) + 1):
        for j in range(1, len(y) + 1):
            d[i][j] = d[i - 1][j - 1] if p[i - 1] == y[j - 1] else 1 + min(d[i - 1][j], d[i][j - 1], d[i - 1][j - 1])
    return (1 - d[-1][-1] / max(len(p), len(y))) * 100


def ref_f1_counts(pred, gt, overlap):
    ps, ys = ref_segments(pred), ref_segments(gt)
    tp = fp = 0
    hits = [False] * len(ys)
    for label, start, end in ps:
        ious = []
        for y_label, y_start, y_end in ys:
            hull = max(end, y_end) - min(start, y_start)
            inter = min(end, y_end) - max(start, y_start)
            iou = math.nan if hull == 0 else inter / hull
            ious.append(iou * (label == y_label))
        if not ious:
            fp += 1
            continue
        first_max = max(range(len(ious)), key=lambda j: (ious[j], -j)) if not any(map(math.isnan, ious)) else None
        best = next((j for j, v in enumerate(ious) if math.isnan(v)), first_max)  # np.argmax: first NaN, else max
        if not math.isnan(ious[best]) and ious[best] >= overlap and not hits[best]:
            tp += 1
            hits[best] = True
        else:
            fp += 1
    return tp, fp, len(ys) - sum(hits)


def ref_frame_ap(labels, scores):
    """scikit-learn average_precision_score: sum over distinct thresholds of recall gain x precision."""
    total = sum(labels)
    if total == 0:
        return math.nan
    ap, prev_tp = 0.0, 0
    for thr in sorted(set(scores), reverse=True):
        chosen = [y for y, s in zip(labels, scores) if s >= thr]
        tp = sum(chosen)
        ap += (tp - prev_tp) / total * tp / len(chosen)
        prev_tp = tp
    return ap


def test_references_reproduce_the_official_scripts_outputs():
    fx = Path(__file__).parent / "fixtures" / "eval"
    official = json.loads((fx / "official_outputs.json").read_text())
    gt = [json.loads(line) for line in (fx / "qvhighlights_val_excerpt.jsonl").read_text().splitlines()]
    preds = [json.loads(line) for line in (fx / "qvhighlights_random_preds.jsonl").read_text().splitlines()]
    assert ref_qvh_brief(gt, preds) == official["qvhighlights_random_preds"]
    anet = json.loads((fx / "activitynet13_substitute_excerpt.json").read_text())
    results = json.loads((fx / "activitynet13_random_preds.json").read_text())["results"]
    blocked = (fx / "activitynet13_blocked.txt").read_text().split()
    ref = ref_anet_ap(anet["database"], results, blocked=blocked)
    for name, aps in official["activitynet13_random_preds"]["per_class_AP"].items():
        assert ref[name] == pytest.approx(aps, abs=1e-12)


def test_reference_interpolated_ap_hand_worked():
    # ranks: TP, FP, TP with 3 ground truths: precision 1, 1/2, 2/3; recall 1/3, 1/3, 2/3
    # envelope at recall 1/3 is 1, at 2/3 is 2/3 -> AP = 1/3 * 1 + 1/3 * 2/3 = 5/9
    assert ref_interpolated_ap([True, False, True], 3) == pytest.approx(5 / 9)


def test_reference_detection_ap_hand_worked():
    gt = [("v", 0.0, 10.0), ("v", 20.0, 30.0)]
    preds = [("v", 0.0, 10.0, 0.9), ("v", 0.0, 9.0, 0.8), ("v", 20.0, 26.0, 0.7), ("w", 0.0, 1.0, 0.6)]
    # tIoU 0.5: TP, FP (its GT is taken), TP (IoU 0.6), FP (no GT in w) -> precision 1, 1/2, 2/3, 1/2
    assert ref_detection_ap(gt, preds, [0.5], True)[0] == pytest.approx(0.5 * 1 + 0.5 * 2 / 3)
    # tIoU 0.65: only the first -> AP 1/2
    assert ref_detection_ap(gt, preds, [0.65], True)[0] == pytest.approx(0.5)


def test_reference_saliency_and_segment_helpers():
    assert ref_saliency_ap([1, 0, 1, 0], [0.9, 0.8, 0.7, 0.1]) == pytest.approx((1 + 2 / 3) / 2)
    assert ref_saliency_ap([0, 0], [1.0, 2.0]) == 0.0
    assert ref_segments([-1, 2, 2, -1, 3]) == [(2, 1, 3), (3, 4, 4)]
    assert ref_edit([1, 1, 2], [1, 2, 2]) == 100.0
    assert ref_frame_ap([1, 0, 1], [0.9, 0.8, 0.1]) == pytest.approx(0.5 * 1 + 0.5 * 2 / 3)

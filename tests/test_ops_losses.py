"""unloc.ops.losses: focal / BCE, 1-D box losses, the official normalisation, finiteness checks."""

import math

import pytest
import torch
import torch.nn.functional as F
from torchvision.ops import sigmoid_focal_loss as tv_focal

from unloc.ops.losses import (
    box_loss,
    check_finite,
    localization_loss,
    segmentation_loss,
    sigmoid_bce,
    sigmoid_focal_loss,
)


@pytest.mark.parametrize("reduction", ["none", "sum", "mean"])
@pytest.mark.parametrize("alpha,gamma", [(0.25, 2.0), (0.5, 0.0), (-1.0, 1.5)])
def test_focal_matches_torchvision(reduction, alpha, gamma):
    logits = torch.randn(3, 7, 11) * 4
    targets = (torch.rand(3, 7, 11) > 0.7).float()
    ours = sigmoid_focal_loss(logits, targets, alpha=alpha, gamma=gamma, reduction=reduction)
    ref = tv_focal(logits, targets, alpha=alpha, gamma=gamma, reduction=reduction)
    torch.testing.assert_close(ours, ref)


def test_focal_hand_worked():
    # logit 0: p = 0.5, ce = ln 2, (1 - p_t)^2 = 1/4; alpha 0.25 on the positive, 0.75 on the negative.
    out = sigmoid_focal_loss(torch.zeros(2), torch.tensor([1.0, 0.0]))
    torch.testing.assert_close(out, torch.tensor([0.25, 0.75]) * 0.25 * math.log(2))


def test_focal_rejects_unknown_reduction():
    with pytest.raises(ValueError, match="reduction"):
        sigmoid_focal_loss(torch.zeros(2), torch.zeros(2), reduction="avg")


def test_bce_matches_torch():
    logits, targets = torch.randn(4, 5) * 3, (torch.rand(4, 5) > 0.5).float()
    torch.testing.assert_close(sigmoid_bce(logits, targets, reduction="mean"),
                               F.binary_cross_entropy_with_logits(logits, targets))


def test_box_losses_hand_worked():
    pred, target = torch.tensor([1.0, 3.0]), torch.tensor([2.0, 2.0])
    # inter = min(1,2) + min(3,2) = 3, union = max + max = 5 -> IoU 0.6; |d| sum 2 -> l1 2/5;
    # centres relative to the anchor: (3-1)/2 = 1 and 0 -> DIoU adds (1/5)^2.
    assert box_loss(pred, target, "iou").item() == pytest.approx(0.4)
    assert box_loss(pred, target, "l1").item() == pytest.approx(0.4)
    assert box_loss(pred, target, "l1+iou").item() == pytest.approx(0.8)
    assert box_loss(pred, target, "diou").item() == pytest.approx(0.44)


def test_box_losses_zero_when_equal_and_iou_matches_segment_iou():
    d = torch.rand(6, 2) * 5 + 0.1
    for kind in ("iou", "l1", "diou", "l1+iou"):
        torch.testing.assert_close(box_loss(d, d, kind), torch.zeros(6), atol=1e-6, rtol=0)
    # Displacements from one anchor a describe segments [a - ds, a + de]; 1 - loss is their tIoU.
    pred, target = torch.tensor([[0.5, 2.0]]), torch.tensor([[1.0, 4.0]])
    assert 1 - box_loss(pred, target, "iou").item() == pytest.approx(2.5 / 5.0)


def test_box_loss_degenerate_pairs_are_finite():
    zero = torch.zeros(1, 2)
    for kind in ("iou", "l1", "diou", "l1+iou"):
        assert torch.isfinite(box_loss(zero, zero, kind)).all()


def test_box_loss_gradients_are_finite_at_zero_union():
    pred = torch.zeros(3, 2, requires_grad=True)
    box_loss(pred, torch.tensor([[0.0, 0.0], [1.0, 2.0], [0.0, 3.0]]), "diou").sum().backward()
    assert torch.isfinite(pred.grad).all()


def test_box_loss_rejects_unknown_kind():
    with pytest.raises(ValueError, match="giou"):
        box_loss(torch.ones(2), torch.ones(2), "giou")


def test_localization_loss_official_normalisation():
    b, q, t = 2, 3, 4
    logits = torch.randn(b, q, t)
    reg_pred = torch.rand(b, q, t, 2) * 3
    reg_targets = torch.rand(b, q, t, 2) * 3
    cls_targets = torch.zeros(b, q, t)
    cls_targets[0, 1, 2] = cls_targets[1, 0, 0] = cls_targets[0, 2, 3] = 1
    mask = torch.tensor([[True, True, True, False], [True, True, True, True]])  # (0, 2, 3) padded: not counted

    out = localization_loss(logits, reg_pred, cls_targets, reg_targets, mask)

    focal = tv_focal(logits, cls_targets, alpha=0.25, gamma=2.0)  # (b, q, t)
    cls_expected = (focal * mask[:, None, :]).sum() / 7  # 7 valid (video, position) pairs
    cells = [(0, 1, 2), (1, 0, 0)]  # positives on valid positions
    box_expected = sum(box_loss(reg_pred[c], reg_targets[c], "iou") for c in cells) / 2
    torch.testing.assert_close(out["cls_loss"], cls_expected)
    torch.testing.assert_close(out["box_loss"], box_expected)
    torch.testing.assert_close(out["loss"], 10.0 * cls_expected + box_expected)
    assert out["num_pos"].item() == 2

    per_query = localization_loss(logits, reg_pred, cls_targets, reg_targets, mask, per_query_normalizer=True)
    torch.testing.assert_close(per_query["cls_loss"], cls_expected / q)


def test_localization_loss_without_positives_is_focal_only():
    logits = torch.randn(1, 2, 5)
    out = localization_loss(logits, torch.rand(1, 2, 5, 2), torch.zeros(1, 2, 5), torch.rand(1, 2, 5, 2),
                            torch.ones(1, 5, dtype=torch.bool), cls_weight=1.0, box="l1+iou")
    assert out["box_loss"].item() == 0.0
    torch.testing.assert_close(out["loss"], out["cls_loss"])


def test_localization_loss_ignores_nonfinite_filler_at_negatives_but_raises_on_nan_logits():
    logits = torch.randn(1, 1, 3)
    reg_targets = torch.full((1, 1, 3, 2), float("nan"))
    reg_targets[0, 0, 1] = torch.tensor([1.0, 1.0])
    cls_targets = torch.tensor([[[0.0, 1.0, 0.0]]])
    mask = torch.ones(1, 3, dtype=torch.bool)
    out = localization_loss(logits, torch.ones(1, 1, 3, 2), cls_targets, reg_targets, mask)
    assert out["box_loss"].item() == pytest.approx(0.0)
    bad_pred = torch.ones(1, 1, 3, 2)
    bad_pred[0, 0, 1, 0] = float("nan")
    with pytest.raises(FloatingPointError, match="box_loss"):
        localization_loss(logits, bad_pred, cls_targets, reg_targets, mask)
    logits[0, 0, 0] = float("nan")
    with pytest.raises(FloatingPointError, match="cls_loss"):
        localization_loss(logits, torch.ones(1, 1, 3, 2), cls_targets, reg_targets, mask)


def test_check_finite_names_the_term():
    check_finite({"a": torch.tensor(1.0), "b": torch.tensor([2.0, 3.0])})
    with pytest.raises(FloatingPointError, match="'box_loss'"):
        check_finite({"cls_loss": torch.tensor(1.0), "box_loss": torch.tensor(float("inf"))})


def test_segmentation_loss_sums_classes_over_valid_frames():
    logits = torch.randn(2, 4, 6)
    targets = torch.zeros(2, 4, 6)
    targets[0, 1, :3] = 1
    targets[1, 3, 2:] = 1
    mask = torch.ones(2, 6, dtype=torch.bool)
    mask[1, 4:] = False
    out = segmentation_loss(logits, targets, mask)
    bce = F.binary_cross_entropy_with_logits(logits, targets, reduction="none")
    expected = (bce * mask[:, None, :]).sum() / 10
    torch.testing.assert_close(out["loss"], expected)
    assert out["num_frames"].item() == 10
    with pytest.raises(FloatingPointError, match="'loss'"):
        segmentation_loss(torch.full((1, 1, 2), float("inf")) * torch.tensor([1.0, -1.0]), torch.zeros(1, 1, 2),
                          torch.ones(1, 2, dtype=torch.bool))

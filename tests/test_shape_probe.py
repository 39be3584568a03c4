"""benchmarks/shape_probe.py: shape labels from appearance captions, and a probe run on a tiny separable set."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import torch

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "shape_probe.py"
_spec = importlib.util.spec_from_file_location("shape_probe", SCRIPT)
shape_probe = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(shape_probe)


def test_shape_labels_read_singular_and_plural_names():
    y = shape_probe.shape_labels(["two purple circles.", "a red star and a blue square.", "an empty background."])
    # SHAPES order: circle, square, triangle, star
    assert y.tolist() == [[1, 0, 0, 0], [0, 1, 0, 1], [0, 0, 0, 0]]


def test_the_cnn_probe_learns_a_separable_toy_set():
    torch.manual_seed(0)
    x = torch.zeros(80, 3, 16, 16)
    y = torch.zeros(80, 4)
    for i in range(80):  # shape k present <=> a bright blob in channel k % 3 at row block k
        for k in range(4):
            if (i >> k) & 1:
                x[i, k % 3, 4 * k:4 * k + 3, 2:6] = 1.0
                y[i, k] = 1.0
    tower, dim = shape_probe.cnn_tower()
    acc = shape_probe.train_probe(tower, dim, x, y, n_train=64, steps=150, lr=3e-3, seed=0)
    assert acc > 90.0

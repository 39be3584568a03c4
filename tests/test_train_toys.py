"""Toy model, data and step function shared by the trainer tests (tests/test_train_*.py), and their sanity check."""

from __future__ import annotations

import torch
from torch import nn
from torch.utils.data import Dataset

from unloc.train import TrainConfig


class NoisyRegression(Dataset):
    """y = x @ w + b; every read jitters x with the global torch generator, like a random augmentation would."""

    def __init__(self, n: int = 40, dim: int = 4, *, jitter: float = 0.05) -> None:
        gen = torch.Generator().manual_seed(123)
        self.x = torch.randn(n, dim, generator=gen)
        self.y = self.x @ torch.randn(dim, 2, generator=gen) + 0.5
        self.jitter = jitter

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, idx: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.x[idx] + self.jitter * torch.randn(self.x.shape[1]), self.y[idx]


class ToyNet(nn.Module):
    """A frozen 'tower' (with dropout), a 'fusion' layer with dropout and a 'heads' layer: names as in UnLoc."""

    def __init__(self, dim: int = 4, hidden: int = 8, *, dropout: float = 0.2, freeze_tower: bool = True) -> None:
        super().__init__()
        self.towers = nn.Sequential(nn.Linear(dim, hidden), nn.Dropout(dropout))
        self.fusion = nn.Sequential(nn.Linear(hidden, hidden), nn.GELU(), nn.Dropout(dropout))
        self.heads = nn.Linear(hidden, 2)
        self.towers.requires_grad_(not freeze_tower)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.heads(self.fusion(self.towers(x)))


def mse_step(model: nn.Module, batch: tuple[torch.Tensor, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Per-sample mean squared error (the loss) and mean absolute error (logged only)."""
    x, y = batch
    pred = model(x)
    return {"loss": ((pred - y) ** 2).mean(), "abs_err": (pred - y).abs().mean()}


def toy_config(**changes) -> TrainConfig:
    """Small, fast settings: 40 samples / batch 8 = 5 steps per epoch, 3 epochs, cosine after a 1-epoch warmup."""
    base = {"epochs": 3, "global_batch_size": 8, "base_lr": 0.05, "warmup_epochs": 1.0, "schedule": "cosine",
            "lr_multipliers": {"fusion": 2.0, "heads": 2.0}}
    return TrainConfig(**{**base, **changes})


def make_toy(seed: int = 0, **kwargs) -> ToyNet:
    """A ToyNet initialised from `seed` (the global generator is re-seeded)."""
    torch.manual_seed(seed)
    return ToyNet(**kwargs)


def test_toys_are_deterministic_and_shaped():
    a, b = make_toy(3), make_toy(3)
    assert all(torch.equal(p, q) for p, q in zip(a.state_dict().values(), b.state_dict().values()))
    data = NoisyRegression()
    x, y = data[0]
    assert x.shape == (4,) and y.shape == (2,)
    out = mse_step(a.eval(), (torch.stack([x]), torch.stack([y])))
    assert out["loss"].requires_grad and out["loss"].ndim == 0

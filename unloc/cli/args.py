"""Argument types that check ranges and paths while parsing, so a bad value stops before any work with argparse's own
one-line error naming the option (`unloc extract-features: error: argument --frames: must be an integer >= 1, got 0`)
and exit status 2.

Each factory returns a `type=` callable for `ArgumentParser.add_argument`; the callable's `__name__` is what argparse
shows for a value it cannot convert.
"""

from __future__ import annotations

import math
from argparse import ArgumentTypeError
from collections.abc import Callable
from pathlib import Path


def _named(func: Callable, name: str) -> Callable:
    func.__name__ = name
    return func


def int_at_least(low: int) -> Callable[[str], int]:
    """Integers >= `low` (e.g. `int_at_least(1)` for a count, `int_at_least(0)` for workers)."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise ArgumentTypeError(f"must be an integer >= {low}, got {text!r}") from None
        if value < low:
            raise ArgumentTypeError(f"must be an integer >= {low}, got {value}")
        return value

    return _named(parse, f"int >= {low}")


def positive_float(*, allow_inf: bool = False) -> Callable[[str], float]:
    """Floats > 0 (NaN refused; 'inf' only with `allow_inf`)."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise ArgumentTypeError(f"must be a number > 0, got {text!r}") from None
        if math.isnan(value) or value <= 0 or (math.isinf(value) and not allow_inf):
            hint = " (or inf)" if allow_inf else ""
            raise ArgumentTypeError(f"must be a {'' if allow_inf else 'finite '}number > 0{hint}, got {text}")
        return value

    return _named(parse, "positive number")


def existing_file(text: str) -> Path:
    """A path to an existing file (not a directory)."""
    path = Path(text)
    if path.is_dir():
        raise ArgumentTypeError(f"{text} is a directory, not a file")
    if not path.is_file():
        raise ArgumentTypeError(f"file {text} does not exist")
    return path


def existing_dir(text: str) -> Path:
    """A path to an existing directory."""
    path = Path(text)
    if path.exists() and not path.is_dir():
        raise ArgumentTypeError(f"{text} is a file, not a directory")
    if not path.is_dir():
        raise ArgumentTypeError(f"directory {text} does not exist")
    return path


def output_file(text: str) -> Path:
    """A file to write: anything but an existing directory, under a parent that is not a file."""
    path = Path(text)
    if path.is_dir():
        raise ArgumentTypeError(f"{text} is a directory; give a file name")
    _check_parents(path, text)
    return path


def output_dir(text: str) -> Path:
    """A directory to write into (created when missing): anything but an existing file."""
    path = Path(text)
    if path.exists() and not path.is_dir():
        raise ArgumentTypeError(f"{text} is a file, not a directory")
    _check_parents(path, text)
    return path


def _check_parents(path: Path, text: str) -> None:
    for parent in path.parents:
        if parent.exists():
            if not parent.is_dir():
                raise ArgumentTypeError(f"{text}: {parent} is a file, not a directory")
            return


def torch_device(text: str) -> str:
    """A torch device string that names a device present on this machine ('cpu', 'cuda', 'cuda:1', 'mps')."""
    import torch  # only the commands that run a model use this type, and they import torch anyway

    try:
        device = torch.device(text)
    except RuntimeError:
        raise ArgumentTypeError(f"{text!r} is not a torch device (e.g. cpu, cuda, cuda:0)") from None
    if device.type == "cuda":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if count == 0:
            raise ArgumentTypeError(f"{text}: no CUDA device is available here (use --device cpu)")
        if device.index is not None and device.index >= count:
            raise ArgumentTypeError(f"{text}: only {count} CUDA device(s) here (cuda:0 to cuda:{count - 1})")
    elif device.type == "mps" and not torch.backends.mps.is_available():
        raise ArgumentTypeError(f"{text}: no MPS device is available here (use --device cpu)")
    return text


__all__ = ["existing_dir", "existing_file", "int_at_least", "output_dir", "output_file", "positive_float",
           "torch_device"]

"""Create the open_clip two-tower model behind UnLoc's image and text towers, and its tokenizer (paper §3.1).

open_clip is wrapped, not forked: a model name plus a pretrained tag goes through `open_clip.create_model`, a custom
architecture dict through `open_clip.CustomTextCLIP`, and a local checkpoint file through `open_clip.load_checkpoint`
(the same loader that tagged CLIP weights use), with `weights_only=True` for .pt files. Text towers are always built
as `CustomTextCLIP` (`model.text`) because only that class returns per-token text features. Problems with a
checkpoint (missing, unreadable, or keys/shapes that do not fit the architecture) raise `CheckpointError` naming
the file and a few offending keys.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Callable
from pathlib import Path

import open_clip
import torch
from torch import nn

from unloc.model.config import TowerConfig

_CHECKPOINT_SUFFIXES = (".safetensors", ".pt", ".pth", ".bin")
_MAX_KEYS_SHOWN = 4


class CheckpointError(ValueError):
    """A CLIP checkpoint file is missing, unreadable, or does not match the architecture."""


def create_clip(cfg: TowerConfig) -> nn.Module:
    """Build the open_clip model that `cfg` names, with its weights loaded.

    Args:
        cfg: tower configuration (arch name or dict, pretrained tag or file or None).

    Returns:
        An open_clip `CustomTextCLIP` with `.visual` and `.text` towers, in train mode on the CPU.
    """
    path = _checkpoint_path(cfg.pretrained)
    if isinstance(cfg.arch, dict):
        if cfg.pretrained is not None and path is None:
            raise CheckpointError(f"pretrained={cfg.pretrained!r}: a custom arch dict loads local checkpoint files only")
        arch = copy.deepcopy(cfg.arch)
        arch.pop("custom_text", None)
        model = open_clip.CustomTextCLIP(**arch)
    else:
        tag = cfg.pretrained if path is None else None
        quick_gelu = bool(tag and (open_clip.get_pretrained_cfg(cfg.arch, tag) or {}).get("quick_gelu", False))
        model = open_clip.create_model(cfg.arch, pretrained=tag, force_custom_text=True, force_quick_gelu=quick_gelu)
    if path is not None:
        load_clip_checkpoint(model, path)
    return model


def _checkpoint_path(pretrained: str | None) -> Path | None:
    """The local file `pretrained` names, or None for a tag / random init. A missing file is an error."""
    if pretrained is None:
        return None
    looks_like_file = pretrained.endswith(_CHECKPOINT_SUFFIXES) or os.sep in pretrained
    if not looks_like_file and not Path(pretrained).is_file():
        return None
    path = Path(pretrained).expanduser()
    if not path.is_file():
        raise CheckpointError(f"CLIP checkpoint file {path} does not exist")
    return path


def load_clip_checkpoint(model: nn.Module, path: str | Path) -> None:
    """Load an open_clip state_dict file (.safetensors, or .pt/.pth/.bin read with weights_only=True) into `model`.

    Args:
        model: an open_clip CLIP or CustomTextCLIP.
        path: the checkpoint file.

    Raises:
        CheckpointError: the file is missing or unreadable, or its keys or shapes do not match `model`.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"CLIP checkpoint file {path} does not exist")
    try:
        result = open_clip.load_checkpoint(model, str(path), strict=False, weights_only=True)
    except (RuntimeError, AssertionError) as err:  # torch's size mismatch; open_clip's pos-embed resize asserts
        mismatches = _shape_mismatches(model, path)
        if mismatches or isinstance(err, AssertionError):
            shown = "; ".join(mismatches[:_MAX_KEYS_SHOWN]) or str(err)
            raise CheckpointError(
                f"CLIP checkpoint {path} does not fit the architecture: {len(mismatches)} shape mismatches, "
                f"e.g. {shown}"
            ) from err
        raise CheckpointError(f"cannot read CLIP checkpoint {path}: {err}") from err
    except Exception as err:  # safetensors, pickle and zip errors have no common base class
        raise CheckpointError(
            f"cannot read CLIP checkpoint {path} as a .safetensors or weights-only .pt state_dict: "
            f"{type(err).__name__}: {err}"
        ) from err
    missing = result.missing_keys
    if missing or result.unexpected_keys:
        raise CheckpointError(
            f"CLIP checkpoint {path} does not fit the architecture: {len(missing)} missing keys "
            f"{missing[:_MAX_KEYS_SHOWN]}, {len(result.unexpected_keys)} unexpected keys "
            f"{result.unexpected_keys[:_MAX_KEYS_SHOWN]}"
        )


def _shape_mismatches(model: nn.Module, path: Path) -> list[str]:
    """'key: file shape vs model shape' for every key of the file whose shape differs from the model's.

    Only called after open_clip has read the file once, so reading it again succeeds.
    """
    state = open_clip.factory.load_state_dict(str(path), weights_only=True)
    own = model.state_dict()
    return [f"{key}: {tuple(value.shape)} in the file vs {tuple(own[key].shape)} in the model"
            for key, value in state.items() if key in own and own[key].shape != value.shape]


def build_tokenizer(cfg: TowerConfig) -> Callable[[str | list[str]], torch.Tensor]:
    """open_clip's tokenizer for `cfg.arch`, padding (id 0) or truncating every text to `cfg.context_length`.

    Returns:
        A callable mapping a list of q strings to token ids (q, context_length), int64. open_clip keeps EOS as the
        last token of a truncated text (the official dmvr tokenizer drops it, reference §1.3).
    """
    name = cfg.arch if isinstance(cfg.arch, str) else ""
    return open_clip.get_tokenizer(name, context_length=cfg.context_length)

"""The training loop: task-agnostic updates with the official recipe, logging, checkpoints, resume and DDP.

The task supplies `step_fn(model, batch) -> {"loss": scalar, ...}`; the loop does the rest of an update as the
official code does (reference/unloc-official.md section 4): gradients averaged over the global batch (ranks and
accumulation micro-steps), global-norm clipping, SGD (or AdamW) with the scheduled, per-module learning rate. It stops
with `NonFiniteLossError` before a non-finite loss or gradient can touch the weights, and checkpoints every
`checkpoint_every_epochs` epochs (or `checkpoint_every_steps` updates) and at the end (`unloc.train.checkpoint`).
"""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Callable, Iterable, Sequence
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import torch
from torch import nn
from torch.utils.data import Dataset

from unloc.train import checkpoint as ckpt_io
from unloc.train.atomic import remove_tree
from unloc.train.batches import StepSource, move_to_device
from unloc.train.config import TrainConfig
from unloc.train.distributed import all_reduce_mean, barrier, default_device, world_info, wrap_ddp
from unloc.train.optim import LrSchedule, apply_lr, build_optimizer, clip_gradients
from unloc.train.runlog import RunLog

StepFn = Callable[[nn.Module, Any], dict[str, Any]]
CHECKPOINT_SUBDIR = "checkpoints"
_SKIPPED = "the update was not applied"


class NonFiniteLossError(FloatingPointError):
    """A loss term or the gradient norm became NaN or infinite; the update was not applied.

    Its message is one line: what was not finite, at which step, and the last checkpoint (to resume from).

    Attributes:
        what: what was not finite, where, and what was done (e.g. "non-finite loss at step 3 (micro-step 1/1):
            loss=nan; the update was not applied").
        step: the 1-based number of the update that failed.
        components: the logged values of that update (rank mean), the offending ones included.
        checkpoint: the newest checkpoint of the run (written or resumed from), None when there is none.
    """

    def __init__(self, what: str, *, step: int, components: dict[str, float], checkpoint: Path | None = None) -> None:
        super().__init__(what)
        self.what, self.step, self.components, self.checkpoint = what, step, components, checkpoint

    def __str__(self) -> str:
        last = f"last checkpoint: {self.checkpoint}" if self.checkpoint else "no checkpoint written yet"
        return f"{self.what}; {last}"

    def __reduce__(self) -> tuple:  # keyword arguments: rebuilt by name when it crosses processes (`launch`)
        return _rebuild_non_finite, (self.what, self.step, self.components, self.checkpoint)


def _rebuild_non_finite(what: str, step: int, components: dict, checkpoint: Path | None) -> NonFiniteLossError:
    return NonFiniteLossError(what, step=step, components=components, checkpoint=checkpoint)


@dataclass
class History:
    """What `fit` returns on rank 0 (empty lists elsewhere): the step and epoch records, and the last checkpoint."""

    steps: list[dict[str, Any]]
    epochs: list[dict[str, Any]]
    checkpoint: Path | None


def set_train_mode(model: nn.Module, frozen_modules: Sequence[str] = ()) -> list[str]:
    """`model.train()`, then `eval()` on every submodule whose parameters are all frozen or that is listed.

    Frozen towers thus keep dropout off and normalisation statistics fixed while the rest trains.

    Args:
        model: the unwrapped model.
        frozen_modules: extra submodule names (as in `named_modules`) to keep in eval mode.

    Returns:
        The names of the submodules put in eval mode (outermost only).
    """
    modules = dict(model.named_modules())
    unknown = [name for name in frozen_modules if name not in modules]
    if unknown:
        raise ValueError(f"frozen_modules {unknown} are not submodules of {type(model).__name__}")
    model.train()
    put: list[str] = []
    for name, module in modules.items():
        if any(p == "" or name.startswith(p + ".") for p in put):
            continue
        params = list(module.parameters())
        if name in frozen_modules or (params and not any(p.requires_grad for p in params)):
            module.eval()
            put.append(name)
    return put


def _autocast(cfg: TrainConfig, device: torch.device, cpu_autocast: bool) -> Callable[[], Any]:
    if cfg.precision == "bf16" and (device.type == "cuda" or cpu_autocast):
        return lambda: torch.autocast(device.type, dtype=torch.bfloat16)
    if cfg.precision == "bf16":
        warnings.warn("precision 'bf16' on the CPU runs in float32; pass cpu_autocast=True to autocast anyway")
    return nullcontext


def _logged_values(out: Any, step: int) -> tuple[torch.Tensor, dict[str, float]]:
    """The loss to backpropagate and every entry's rank-mean value (one collective, one host sync)."""
    if not isinstance(out, dict) or not isinstance(out.get("loss"), torch.Tensor):
        raise TypeError(f"step_fn must return a dict with a tensor 'loss', got {type(out).__name__} at step {step}")
    loss = out["loss"]
    if loss.numel() != 1 or not loss.requires_grad:
        raise ValueError(f"step_fn's 'loss' must be a scalar that requires grad (step {step}); got shape "
                         f"{tuple(loss.shape)}, requires_grad={loss.requires_grad}")
    keys = sorted(out)
    for k in keys:
        if isinstance(out[k], torch.Tensor) and out[k].numel() != 1:
            raise ValueError(f"step_fn entry {k!r} must be a scalar to be logged, got shape {tuple(out[k].shape)}")
    stacked = torch.stack([torch.as_tensor(out[k], device=loss.device).detach().float().reshape(()) for k in keys])
    return loss, dict(zip(keys, all_reduce_mean(stacked).tolist()))


def _update(train_model: nn.Module, step_fn: StepFn, micro_batches: list[Any], *, optimizer: torch.optim.Optimizer,
            trainable: list[nn.Parameter], cfg: TrainConfig, device: torch.device, autocast: Callable[[], Any],
            step: int) -> tuple[dict[str, float], float]:
    """One update over this rank's micro-batches; returns the logged means and the gradient norm before clipping."""
    optimizer.zero_grad(set_to_none=True)
    n = len(micro_batches)
    means: dict[str, float] = {}
    ddp = isinstance(train_model, nn.parallel.DistributedDataParallel)
    for i, batch in enumerate(micro_batches):
        batch = move_to_device(batch, device)
        where = f"at step {step} (micro-step {i + 1}/{n})"
        with train_model.no_sync() if ddp and i < n - 1 else nullcontext():
            try:
                with autocast():
                    out = step_fn(train_model, batch)
            except FloatingPointError as err:  # a loss function's own finiteness check (e.g. unloc.ops.losses)
                raise NonFiniteLossError(f"non-finite loss {where}: {err}; {_SKIPPED}", step=step,
                                         components={}) from err
            loss, values = _logged_values(out, step)
            bad = {k: v for k, v in values.items() if not math.isfinite(v)}
            if bad:  # every rank sees the same means, so every rank stops here, before any backward
                terms = ", ".join(f"{k}={v}" for k, v in bad.items())
                raise NonFiniteLossError(f"non-finite loss {where}: {terms}; {_SKIPPED}", step=step, components=values)
            (loss / n).backward()
        for k, v in values.items():
            means[k] = means.get(k, 0.0) + v / n
    norm = float(clip_gradients(trainable, cfg.clip_grad_norm))
    if not math.isfinite(norm):
        raise NonFiniteLossError(f"non-finite gradient norm ({norm}) at step {step}; {_SKIPPED}", step=step,
                                 components={**means, "grad_norm": norm})
    optimizer.step()
    return means, norm


def _evaluate(eval_fn: Callable | None, model: nn.Module, epoch: int) -> dict[str, float]:
    if eval_fn is None:
        return {}
    model.eval()
    with torch.no_grad():
        metrics = eval_fn(model, epoch) or {}
    return {f"eval/{k}": float(v) for k, v in metrics.items()}


def _check_weights(model: nn.Module, step: int) -> None:
    bad = [name for name, p in model.named_parameters() if not torch.isfinite(p).all()]
    if bad:
        raise NonFiniteLossError(f"non-finite weights after step {step} ({bad[:5]}); no checkpoint written",
                                 step=step, components={})


def fit(
    model: nn.Module, step_fn: StepFn, cfg: TrainConfig, *, out_dir: str | Path, seed: int = 0,
    dataset: Dataset | None = None,
    collate_fn: Callable | None = None, batches: Callable[..., Iterable] | None = None,
    steps_per_epoch: int | None = None, resume: bool | Literal["or_start"] = False,
    run_config: dict[str, Any] | None = None, eval_fn: Callable[[nn.Module, int], dict] | None = None,
    on_step_end: Callable[[int, dict], None] | None = None, frozen_modules: Sequence[str] = (),
    device: str | torch.device | None = None, find_unused_parameters: bool = False, cpu_autocast: bool = False,
    progress: bool = True,
) -> History:
    """Train `model` for `cfg.epochs` epochs; call it on every rank (see `launch`).

    Args:
        model: the model, with frozen parameters already `requires_grad=False`; moved to `device`.
        step_fn: (model, micro-batch on device) -> {"loss": scalar tensor, other scalars to log}. The loss must be a
            per-sample mean over the micro-batch, so that the rank and micro-step mean is the global-batch mean. Under
            DDP `model` is the DDP wrapper: run the trainable computation through `model(...)` (its forward), and
            reach other attributes through `model.module`.
        cfg: the training config; `cfg.world_size` must equal the number of running ranks.
        out_dir: where the run's checkpoints/, history.jsonl and epochs.jsonl go.
        seed: the run's seed: the data order of `dataset` is a function of (seed, epoch); stored with the
            checkpoints (official: 0). With `batches`, the caller orders the data (e.g. with the same seed).
        dataset: map-style training set; the trainer orders, shards and loads it (`make_loader`).
        collate_fn: list of samples -> batch, for `dataset`.
        batches: instead of `dataset`, `epoch -> iterable of this rank's micro-batches` (optional `start_step=`).
        steps_per_epoch: updates per epoch with `batches` (default len(batches(0)) // grad_accum_steps).
        resume: True: continue from the newest readable checkpoint in `out_dir` (a corrupt newer one is skipped
            with a warning); no checkpoint is a `ResumeError`. "or_start": the same, but without a checkpoint start
            from scratch. False: start from scratch, removing that directory's old checkpoints.
        run_config: the whole run's resolved config (nested, JSON-able, e.g. an experiment config); stored with every
            checkpoint next to `cfg` (whose section also records `seed` and `out_dir`), and a resume with a differing
            one is a `ResumeError` listing the dotted keys.
        eval_fn: (unwrapped model in eval mode, epoch) -> metrics, called on every rank after every epoch under
            no_grad; rank 0's metrics go into the epoch summary as `eval/<name>`.
        on_step_end: (step, record) after every update (and its checkpoint), on every rank.
        frozen_modules: submodules kept in eval mode besides those whose parameters are all frozen.
        device: default cuda:<local rank> when available, else CPU. progress: the progress bar (rank 0).
        find_unused_parameters: passed to DDP. cpu_autocast: with precision 'bf16', also autocast on the CPU.

    Returns: the `History` (step and epoch records as written to history.jsonl / epochs.jsonl, last checkpoint).

    Raises:
        NonFiniteLossError: a loss term or the gradient norm is not finite (before the update is applied).
        unloc.train.checkpoint.ResumeError: `resume` cannot continue (no or only corrupt checkpoints, changed config).
    """
    if resume not in (False, True, "or_start"):
        raise ValueError(f"resume must be False, True or 'or_start', got {resume!r}")
    info = world_info()
    if info.world_size != cfg.world_size:
        raise ValueError(f"cfg.world_size={cfg.world_size} but {info.world_size} process(es) are running: start them "
                         "with unloc.train.launch (or torchrun)")
    device = torch.device(device) if device is not None else default_device()
    if device.type == "cuda" and device.index is None:
        device = torch.device("cuda", torch.cuda.current_device())
    model.to(device)
    source = StepSource(cfg, seed=seed, rank=info.rank, world_size=info.world_size, dataset=dataset,
                        collate_fn=collate_fn, batches=batches, steps_per_epoch=steps_per_epoch,
                        pin_memory=device.type == "cuda")
    spe = source.steps_per_epoch
    optimizer = build_optimizer(model, cfg)
    schedule = LrSchedule.from_config(cfg, spe)
    out_dir = Path(out_dir)
    root = out_dir / CHECKPOINT_SUBDIR
    train = {**cfg.to_dict(), "seed": seed, "out_dir": str(out_dir)}  # the run's values, with the trainer's settings
    config = {**{k: v for k, v in (run_config or {}).items() if k != "train"}, "train": train}
    pos, ckpt, rng_states = ckpt_io.Position(), None, None
    if info.rank == 0:
        ckpt_io.remove_interrupted_writes(root, out_dir)
    if resume:
        pos, ckpt, rng_states = ckpt_io.resume_training(root, model=model, optimizer=optimizer, config=config,
                                                        steps_per_epoch=spe, require=resume is True)
    elif info.rank == 0:
        for old in ckpt_io.list_checkpoints(root):
            remove_tree(old)
    barrier()
    trainable = [p for p in model.parameters() if p.requires_grad]
    train_model = wrap_ddp(model, device, find_unused_parameters=find_unused_parameters)
    autocast = _autocast(cfg, device, cpu_autocast)
    log = RunLog(out_dir, enabled=info.rank == 0, total_steps=cfg.epochs * spe, start_step=pos.step,
                 progress=progress)

    def save() -> Path:
        _check_weights(model, pos.step)
        pos.elapsed_sec = time.perf_counter() - t_start
        return ckpt_io.write_training_checkpoint(root, model=model, optimizer=optimizer, config=config, pos=pos,
                                                 steps_per_epoch=spe, seed=seed, keep=cfg.keep_checkpoints)

    if rng_states is not None:
        ckpt_io.restore_rank_rng(rng_states, ckpt)  # last, so that nothing between here and the first update draws
    t_start = time.perf_counter() - pos.elapsed_sec
    try:
        while pos.epoch < cfg.epochs:
            epoch = pos.epoch
            set_train_mode(model, frozen_modules)
            if train_model is not model:
                train_model.training = True  # the DDP wrapper's own flag
            t_prev = time.perf_counter()
            for micro_batches in source.epoch(epoch, pos.step_in_epoch):
                lr = apply_lr(optimizer, schedule, pos.step)
                values, norm = _update(train_model, step_fn, micro_batches, optimizer=optimizer, trainable=trainable,
                                       cfg=cfg, device=device, autocast=autocast, step=pos.step + 1)
                pos.step, pos.step_in_epoch = pos.step + 1, pos.step_in_epoch + 1
                now = time.perf_counter()
                record = {"step": pos.step, "epoch": epoch, "lr": lr, **values, "grad_norm": norm,
                          "samples_per_sec": cfg.global_batch_size / max(now - t_prev, 1e-9), "time_sec": now - t_start}
                t_prev = now
                log.log_step(record)
                every = cfg.checkpoint_every_steps
                if every and pos.step % every == 0 and pos.step_in_epoch < spe:
                    ckpt = save()
                if on_step_end is not None:
                    on_step_end(pos.step, record)
            log.log_epoch(epoch, _evaluate(eval_fn, model, epoch))
            pos.epoch, pos.step_in_epoch = epoch + 1, 0
            every = cfg.checkpoint_every_epochs
            if pos.epoch == cfg.epochs or (every and pos.epoch % every == 0):
                ckpt = save()
    except NonFiniteLossError as err:
        err.checkpoint = ckpt
        raise
    finally:
        log.close()
    return History(steps=log.steps, epochs=log.epochs, checkpoint=ckpt)

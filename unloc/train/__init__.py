"""Generic training: `fit(model, step_fn, cfg, dataset=...)`, checkpoints, DDP launch and seeding (paper section 4)."""

from unloc.train.checkpoint import ResumeError, latest_checkpoint
from unloc.train.config import TrainConfig
from unloc.train.distributed import barrier, is_main, launch, world_info
from unloc.train.loop import History, NonFiniteLossError, fit, set_train_mode
from unloc.train.optim import LrSchedule, build_optimizer, build_param_groups
from unloc.train.sampler import EpochShardSampler
from unloc.train.seed import seed_everything
from unloc.train.weights import LoadReport, load_weights, read_weights, save_weights

__all__ = [
    "EpochShardSampler", "History", "LoadReport", "LrSchedule", "NonFiniteLossError", "ResumeError", "TrainConfig",
    "barrier", "build_optimizer", "build_param_groups", "fit", "is_main", "latest_checkpoint",
    "launch", "load_weights", "read_weights", "save_weights", "seed_everything", "set_train_mode", "world_info",
]

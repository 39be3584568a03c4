"""The UnLoc tasks: targets, losses and predictions for moment retrieval, temporal action localization, action
segmentation and video pretraining on top of the loss-free model (paper §3-§4; reference/style.md §2.4)."""

from unloc.data.collate import TaskBatch
from unloc.tasks.action_segmentation import ActionSegmentation, stitch_windows
from unloc.tasks.base import Task
from unloc.tasks.config import NmsConfig, TaskConfig
from unloc.tasks.inference import build_task, predict_all
from unloc.tasks.moment_retrieval import MomentRetrieval
from unloc.tasks.prompting import ClassPrompts, prompt_outputs
from unloc.tasks.temporal_localization import TemporalLocalization
from unloc.tasks.video_pretraining import VideoPretraining

__all__ = [
    "ActionSegmentation", "ClassPrompts", "MomentRetrieval", "NmsConfig", "Task", "TaskBatch", "TaskConfig",
    "TemporalLocalization", "VideoPretraining", "build_task", "predict_all", "prompt_outputs", "stitch_windows",
]

"""Inference on any video: `localize` (moment retrieval, temporal action localization or action segmentation with a
trained run), overlapping windows for long videos, and the timeline figure of its results."""

from unloc.infer.localize import LocalizeError, localize, to_json

__all__ = ["LocalizeError", "localize", "to_json"]

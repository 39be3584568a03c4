"""One stage end to end: config -> data -> model -> training -> predictions -> the official metrics.

`run_experiment(cfg, out_dir)` (what `unloc train` and the study's notebooks call) and `load_run(run_dir)` live in
`unloc.run.experiment`; `unloc.run.evaluate` writes a run's predictions in the official submission formats and scores
them with `unloc.eval`, exactly as `unloc eval` would.
"""

from unloc.run.experiment import RunResult, load_run, prepare_features, run_experiment

__all__ = ["RunResult", "load_run", "prepare_features", "run_experiment"]

"""The run's record: one JSON line per update (`history.jsonl`), one per epoch (`epochs.jsonl`), and a progress bar.

Only rank 0 writes. A resumed run first cuts both files back to the checkpoint it resumes from, so that the file
reads as one uninterrupted run; the epoch summary of an epoch resumed in its middle is still the mean over all its
steps, because the records of its first part are read back.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from tqdm.std import tqdm  # text bars: tqdm.auto warns in kernels without ipywidgets

from unloc.train.atomic import atomic_write

HISTORY_FILE, EPOCHS_FILE = "history.jsonl", "epochs.jsonl"


def read_jsonl(path: str | Path) -> list[dict[str, Any]]:
    """All records of a JSON-lines file ([] when it does not exist); a malformed line raises naming its number."""
    path = Path(path)
    if not path.is_file():
        return []
    records = []
    for line_no, line in enumerate(path.read_text().splitlines(), start=1):
        if not line.strip():
            continue
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError as err:
            raise ValueError(f"{path}:{line_no}: not a JSON record: {err}") from err
    return records


def _dump(record: dict[str, Any]) -> str:
    clean = {k: (v if not isinstance(v, float) or math.isfinite(v) else repr(v)) for k, v in record.items()}
    return json.dumps(clean, allow_nan=False)


class RunLog:
    """Writes the step and epoch records and drives the progress bar (does nothing but keep records off rank 0).

    Args:
        out_dir: where history.jsonl and epochs.jsonl go.
        enabled: True on rank 0.
        total_steps: updates in the whole run (bar length).
        start_step: updates already done (0, or the resumed checkpoint's step).
        progress: show the tqdm bar.
    """

    def __init__(self, out_dir: str | Path, *, enabled: bool, total_steps: int, start_step: int,
                 progress: bool = True) -> None:
        self.enabled = enabled
        self.steps: list[dict[str, Any]] = []
        self.epochs: list[dict[str, Any]] = []
        self._file = None
        self._bar = None
        if not enabled:
            return
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        self.history_path, self.epochs_path = out / HISTORY_FILE, out / EPOCHS_FILE
        self.steps = [r for r in read_jsonl(self.history_path) if r["step"] <= start_step]
        done_epoch = self.steps[-1]["epoch"] if self.steps else -1
        self.epochs = [r for r in read_jsonl(self.epochs_path) if r["step"] <= start_step and r["epoch"] <= done_epoch]
        for path, records in ((self.history_path, self.steps), (self.epochs_path, self.epochs)):
            text = "".join(_dump(r) + "\n" for r in records)
            atomic_write(path, lambda tmp, text=text: tmp.write_text(text))
        self._file = self.history_path.open("a")
        self._bar = tqdm(total=total_steps, initial=start_step, disable=not progress, dynamic_ncols=True,
                         unit="step")

    def log_step(self, record: dict[str, Any]) -> None:
        """Append one update's record and refresh the bar."""
        if not self.enabled:
            return
        self.steps.append(record)
        self._file.write(_dump(record) + "\n")
        self._file.flush()
        self._bar.update(1)
        self._bar.set_postfix(epoch=record["epoch"], loss=f"{record['loss']:.4g}", lr=f"{record['lr']:.3g}",
                              refresh=False, **{"samples/s": f"{record['samples_per_sec']:.1f}"})

    def log_epoch(self, epoch: int, extra: dict[str, Any]) -> dict[str, Any]:
        """Write the summary of `epoch`: its last step, the mean of every numeric step field, plus `extra`."""
        if not self.enabled:
            return {}
        rows = [r for r in self.steps if r["epoch"] == epoch]
        summary: dict[str, Any] = {"epoch": epoch, "step": rows[-1]["step"] if rows else None, "num_steps": len(rows)}
        skip = {"epoch", "step", "lr", "time_sec"}
        for key in rows[0] if rows else ():
            values = [r[key] for r in rows if isinstance(r.get(key), (int, float))]
            if key not in skip and values:
                summary[key] = sum(values) / len(values)
        if rows:
            summary["lr"], summary["time_sec"] = rows[-1]["lr"], rows[-1]["time_sec"]
        summary.update(extra)
        self.epochs.append(summary)
        with self.epochs_path.open("a") as f:
            f.write(_dump(summary) + "\n")
        return summary

    def write(self, message: str) -> None:
        """Print a line without breaking the bar."""
        if self.enabled:
            tqdm.write(message)

    def close(self) -> None:
        """Close the history file and the bar."""
        if self._file is not None:
            self._file.close()
            self._file = None
        if self._bar is not None:
            self._bar.close()
            self._bar = None

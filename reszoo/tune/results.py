"""The results of a search: one row per trial, printed as a table and written as results.json and results.csv.

A row holds the trial id, its status (completed, rejected, diverged, failed, running), its
hyperparameters, epochs, trainable parameters, validation error % and the mean training seconds per
epoch (the first epoch, which includes tracing, left out when there are others, as ``reszoo.report``
does). What keras-tuner's own ``trial.json`` lacks is kept in each trial folder's ``reszoo_trial.json``.
"""

from __future__ import annotations

import csv
import os
import statistics
from typing import Any

from reszoo.callbacks import read_json, write_json_atomic
from reszoo.tune.spaces import SearchSpace, show

RESULTS_JSON, RESULTS_CSV = "results.json", "results.csv"  # in the project folder
TRIAL_RECORD = "reszoo_trial.json"  # in each trial folder


def write_trial_record(trial_dir: str, **record) -> None:
    """What the results table needs beyond keras-tuner's trial.json: status, params, epoch seconds, reason."""
    write_json_atomic(os.path.join(trial_dir, TRIAL_RECORD), record)


def read_trial_record(trial_dir: str) -> dict[str, Any]:
    return read_json(os.path.join(trial_dir, TRIAL_RECORD), {})


def trial_status(trial, record: dict[str, Any]) -> str:
    """completed | rejected | diverged | failed | running."""
    if record.get("status") in ("rejected", "diverged"):
        return record["status"]
    status = str(trial.status).lower()
    return {"invalid": "failed", "idle": "running", "stopped": "running"}.get(status, status)


def failure_reason(message: str | None) -> str:
    """The last line of keras-tuner's stored traceback: the exception and its message."""
    lines = [line.strip() for line in (message or "").strip().splitlines() if line.strip()]
    return lines[-1] if lines else "no message"


def results_rows(tuner, space: SearchSpace) -> list[dict[str, Any]]:
    """One row per trial of the project, in trial order."""
    trials = sorted(tuner.oracle.trials.items(), key=lambda item: int(item[0]))
    return [
        trial_row(trial_id, trial, read_trial_record(tuner.get_trial_dir(trial_id)), space)
        for trial_id, trial in trials
    ]


def trial_row(trial_id: str, trial, record: dict[str, Any], space: SearchSpace) -> dict[str, Any]:
    status = trial_status(trial, record)
    seconds = record.get("epoch_seconds") or []
    timed = seconds[1:] if len(seconds) > 1 else seconds  # the first epoch includes tracing
    stored = trial.hyperparameters.values
    reason = record.get("reason") or (failure_reason(trial.message) if status == "failed" else None)
    return {
        "trial": trial_id,
        "status": status,
        "hyperparameters": space.decode(stored),
        "epochs": stored.get("tuner/epochs", record.get("epochs")),
        "params": record.get("params"),
        "val_error": 100.0 * (1.0 - trial.score) if status == "completed" and trial.score is not None else None,
        "mean_epoch_seconds": statistics.fmean(timed) if timed else None,
        "reason": reason,
    }


def format_table(rows: list[dict[str, Any]]) -> str:
    header = ["trial", "status", "hyperparameters", "epochs", "params", "val error %", "s/epoch"]
    lines = [_table_line(row) for row in rows]
    widths = [max(len(h), *(len(line[i]) for line in lines)) for i, h in enumerate(header)]
    fmt = "  ".join(f"{{:{'<' if i < 3 else '>'}{w}}}" for i, w in enumerate(widths))
    return "\n".join([fmt.format(*header), *(fmt.format(*line) for line in lines)])


def _table_line(row: dict[str, Any]) -> list[str]:
    return [
        row["trial"],
        row["status"],
        " ".join(f"{k}={show(v)}" for k, v in row["hyperparameters"].items()),
        "" if row["epochs"] is None else str(row["epochs"]),
        "" if row["params"] is None else f"{row['params']:,}",
        "" if row["val_error"] is None else f"{row['val_error']:.2f}",
        "" if row["mean_epoch_seconds"] is None else f"{row['mean_epoch_seconds']:.2f}",
    ]


def write_results(project_dir: str, rows: list[dict[str, Any]], best: dict[str, Any] | None) -> None:
    """``results.json`` (rows and best) and ``results.csv`` (one column per hyperparameter)."""
    write_json_atomic(os.path.join(project_dir, RESULTS_JSON), {"trials": rows, "best": best})
    names = list(dict.fromkeys(name for row in rows for name in row["hyperparameters"]))
    columns = ["trial", "status", *names, "epochs", "params", "val_error", "mean_epoch_seconds", "reason"]
    path = os.path.join(project_dir, RESULTS_CSV)
    with open(path + ".tmp", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=columns)
        writer.writeheader()
        for row in rows:
            flat = {k: v for k, v in row.items() if k != "hyperparameters"}
            writer.writerow({**flat, **row["hyperparameters"]})
    os.replace(path + ".tmp", path)


def best_row(rows: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The completed trial with the lowest validation error (the earliest on a tie)."""
    completed = [r for r in rows if r["status"] == "completed" and r["val_error"] is not None]
    return min(completed, key=lambda r: (r["val_error"], int(r["trial"]))) if completed else None

"""Reliability: a killed run resumes where it was, a diverging run stops with exit 3 and keeps its backup."""

from __future__ import annotations

import csv
import json
import os
import re
import signal
import subprocess
import sys
import time

import h5py
import keras
import numpy as np
import pytest

from reszoo import train
from reszoo.callbacks import DivergenceError, EpochTimer, SafeBackupAndRestore
from reszoo.training.config import training_schedule

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TINY = ["--model", "fast_resnet", "--set", "depth=8", "--image-size", "8", "--batch-size", "8"]


def read_rows(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def backed_up_epochs(backup_dir) -> int:
    """Epochs BackupAndRestore has saved so far (0 until the first one is done)."""
    try:
        with open(os.path.join(backup_dir, "checkpoint", "training_metadata.json")) as f:
            return json.load(f)["epoch"]
    except (OSError, ValueError, KeyError):
        return 0


def start(argv, log_path):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", KERAS_BACKEND="tensorflow")
    with open(log_path, "w") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "reszoo.train", *argv], cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT
        )


def test_a_run_killed_mid_epoch_resumes_and_finishes_with_every_epoch_once(tmp_path):
    out, backup = tmp_path / "out", tmp_path / "out.backup"
    # 64 batches per epoch (~0.5 s here), 6 epochs; the rate drops x10 at epochs 2 and 4.
    argv = [*TINY, "--dataset", "synthetic:512", "--epochs", "6", "--milestones", "2,4", "--seed", "0"]
    argv += ["--export-dir", str(out)]
    first = start(argv, tmp_path / "first.log")
    deadline = time.monotonic() + 240
    while backed_up_epochs(backup) < 2 and first.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    time.sleep(0.1)  # into epoch 2
    first.send_signal(signal.SIGKILL)
    assert first.wait(30) == -signal.SIGKILL, (tmp_path / "first.log").read_text()[-3000:]
    killed_at = backed_up_epochs(backup)
    assert 2 <= killed_at < 6
    assert sorted(os.listdir(tmp_path)) == ["first.log", "out.backup"]  # no export, no partial folder
    assert [int(r["epoch"]) for r in read_rows(backup / "history.csv")][:killed_at] == list(range(killed_at))

    second = start(argv, tmp_path / "second.log")
    assert second.wait(240) == 0, (tmp_path / "second.log").read_text()[-3000:]
    log = (tmp_path / "second.log").read_text()
    resumed = int(re.search(r"resuming from the backup in \S+ at epoch (\d+)", log).group(1))
    assert resumed == killed_at > 0  # it did not start over
    assert "Epoch 1/6" not in log and f"Epoch {resumed + 1}/6" in log

    rows = read_rows(out / "history.csv")
    assert [int(r["epoch"]) for r in rows] == [0, 1, 2, 3, 4, 5]  # each epoch once, in order
    assert [float(r["learning_rate"]) for r in rows] == pytest.approx([0.1, 0.1, 0.01, 0.01, 0.001, 0.001])
    summary = json.loads((out / "summary.json").read_text())
    assert summary["resumed_at_epoch"] == resumed
    assert summary["learning_rates"] == pytest.approx([0.1, 0.1, 0.01, 0.01, 0.001, 0.001])
    assert len(summary["epoch_seconds"]) == 6 and min(summary["epoch_seconds"]) > 0
    assert summary["epoch_seconds"] == pytest.approx([float(r["epoch_seconds"]) for r in rows])
    assert 100 * (1 - float(rows[-1]["accuracy"])) == pytest.approx(summary["train_error"])
    assert sorted(os.listdir(tmp_path)) == ["first.log", "out", "second.log"]  # the backup went with success


def test_a_diverging_run_exits_3_naming_the_epoch_and_keeps_the_last_good_backup(tmp_path, capsys):
    out, backup = tmp_path / "out", tmp_path / "out.backup"
    argv = [*TINY, "--dataset", "synthetic:64", "--epochs", "3", "--seed", "0", "--export-dir", str(out)]
    # Epoch 0 warms up at 0.01 (its backup is good); from epoch 1 the rate is absurd.
    assert train.main([*argv, "--warmup-epochs", "1", "--warmup-lr", "0.01", "--lr", "1e6"]) == 3
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err
    assert re.match(
        r"error: training diverged: the loss became (nan|inf) in epoch 1 \(batch \d+\); "
        r"the last finite loss was \S+ \(epoch [01], batch \d+\)\. The backup of epoch 0 is in "
        + re.escape(str(backup)),
        err,
    ), err
    assert sorted(os.listdir(tmp_path)) == ["out.backup"]
    assert [int(r["epoch"]) for r in read_rows(backup / "history.csv")] == [0]
    assert backed_up_epochs(backup) == 1
    with h5py.File(backup / "checkpoint" / "latest.weights.h5") as weights:
        arrays = []
        weights.visititems(lambda name, item: arrays.append(item[()]) if isinstance(item, h5py.Dataset) else None)
    assert arrays and all(np.all(np.isfinite(a)) for a in arrays)

    # A rerun with a sane rate resumes from the good backup.
    summary = train.run([*argv, "--warmup-epochs", "1", "--warmup-lr", "0.01", "--lr", "0.1", "--resume-with-changes"])
    assert summary["resumed_at_epoch"] == 1 and summary["resumed_with_changes"] == {"lr": [1e6, 0.1]}
    assert [int(r["epoch"]) for r in read_rows(out / "history.csv")] == [0, 1, 2]
    assert not backup.exists()


def test_a_backup_of_another_model_is_refused(tmp_path, capsys):
    (tmp_path / "out.backup").mkdir()
    (tmp_path / "out.backup" / "run.json").write_text(json.dumps({"model": "resnet20", "build_kwargs": {}}))
    argv = [*TINY, "--dataset", "synthetic:16", "--epochs", "1", "--export-dir", str(tmp_path / "out")]
    assert train.main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: backup dir {tmp_path / 'out.backup'} holds a run with other model, build_kwargs")
    assert "model='resnet20'" in err and "remove the backup dir or pass another --backup-dir" in err
    assert sorted(os.listdir(tmp_path)) == ["out.backup"]


def test_the_backup_never_takes_non_finite_weights(tmp_path):
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    backup = SafeBackupAndRestore(str(tmp_path / "b"))
    backup.set_model(model)
    backup.on_epoch_end(0)
    saved = (tmp_path / "b" / "latest.weights.h5").read_bytes()
    model.layers[0].kernel.assign([[np.nan], [1.0]])
    backup.on_epoch_begin(1)
    with pytest.raises(
        DivergenceError, match=r"1 weight\(s\) became non-finite in epoch 1 \(first: sequential/dense/kernel\)"
    ):
        backup.on_epoch_end(1)
    assert (tmp_path / "b" / "latest.weights.h5").read_bytes() == saved
    assert json.loads((tmp_path / "b" / "training_metadata.json").read_text())["epoch"] == 1


def test_epoch_timings_survive_a_restart_and_a_rerun_epoch_replaces_its_entry(tmp_path):
    path = str(tmp_path / "seconds.json")
    clock = iter([0.0, 2.0, 10.0, 13.0, 20.0, 24.0]).__next__
    first = EpochTimer(clock=clock, state_path=path)
    first.on_train_begin()
    for epoch in (0, 1):
        first.on_epoch_begin(epoch)
        first.on_epoch_end(epoch, {})
    second = EpochTimer(clock=clock, state_path=path)
    second.on_train_begin()  # resumed at epoch 1: epoch 1 runs again
    second.on_epoch_begin(1)
    second.on_epoch_end(1, {})
    assert second.seconds_by_epoch == {0: 2.0, 1: 4.0}
    assert json.loads((tmp_path / "seconds.json").read_text()) == {"0": 2.0, "1": 4.0}


def test_merged_history_keeps_each_epochs_last_row_in_order(tmp_path):
    # Epochs 1 and 2 ran twice (a resume from the backup of epoch 0), and a kill cut the last row short.
    (tmp_path / "history.csv").write_text("epoch,loss\n0,2.0\n1,1.5\n2,1.4\n1,1.6\n2,1.3\n3,1.2\n4,1.")
    backup = train.Backup(str(tmp_path))
    assert backup.open({"model": "fast_resnet"}) == 0
    columns, rows = backup.merged_history()
    assert columns == ["epoch", "loss"]
    assert [(r["epoch"], r["loss"]) for r in rows] == [("0", "2.0"), ("1", "1.6"), ("2", "1.3"), ("3", "1.2")]
    assert (tmp_path / "history.csv").read_text().endswith("3,1.2\n")


def test_callbacks_write_their_state_before_the_backup_marks_an_epoch_done(tmp_path):
    argv = ["--recipe", "he2015", "--val-split", "8", "--keep-best", "--tensorboard", "--backup-every", "5"]
    args = train.resolve(train.parse_args(argv))
    callbacks, named = train.make_callbacks(
        args, train.Backup(str(tmp_path)), training_schedule(args, steps_per_epoch=3)
    )
    kinds = [type(c).__name__ for c in callbacks]
    assert kinds == [
        "EpochTimer",
        "StopOnDivergence",
        "IterationWarmup",
        "LearningRateLog",
        "CSVLogger",
        "TensorBoard",
        "ModelCheckpoint",
        "SafeBackupAndRestore",
    ]
    assert callbacks[-1].save_freq == 5 and callbacks[-1].backup_dir == str(tmp_path / "checkpoint")
    assert named["warmup"] is callbacks[2] and named["timer"] is callbacks[0]
    assert callbacks[4].append  # the history of a resumed run continues the file

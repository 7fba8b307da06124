"""Runs that never surprise: damaged backups, resumes with other settings, locks, unwritable folders,
stale partial exports, Ctrl-C / SIGTERM and one-class folders, each with one clear line."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time

import keras
import numpy as np
import pytest
from PIL import Image

from reszoo import cli, data, train
from reszoo.callbacks import EpochTimer, SafeBackupAndRestore
from reszoo.training import loop
from reszoo.training.backup import Backup

TINY = ["--model", "fast_resnet", "--set", "depth=8", "--dataset", "synthetic:32", "--image-size", "8"]
TINY += ["--batch-size", "8", "--seed", "0", "--recipe", "none", "--epochs", "3"]


class InterruptAtEpoch2(EpochTimer):
    """A kill after epochs 0 and 1 are backed up."""

    def on_epoch_begin(self, epoch, logs=None):
        if epoch == 2:
            raise KeyboardInterrupt
        super().on_epoch_begin(epoch, logs)


@pytest.fixture(scope="module")
def interrupted_backup(tmp_path_factory):
    """An export dir's backup holding epochs 0-1 of a 3-epoch run (made once, copied per test)."""
    root = tmp_path_factory.mktemp("interrupted")
    patch = pytest.MonkeyPatch()
    patch.setattr(loop, "EpochTimer", InterruptAtEpoch2)
    with pytest.raises(cli.Interrupted, match=r"interrupted in epoch 2: the backup of epochs 0-1 is in .*out\.backup"):
        train.run([*TINY, "--export-dir", str(root / "out")])
    patch.undo()
    assert sorted(os.listdir(root)) == ["out.backup"]
    return root / "out.backup"


@pytest.fixture
def backup_copy(interrupted_backup, tmp_path):
    shutil.copytree(interrupted_backup, tmp_path / "out.backup")
    return tmp_path / "out.backup"


def truncate(path):
    """Half a file, as a kill in the middle of writing it leaves it."""
    with open(path, "r+b") as f:
        f.truncate(path.stat().st_size // 2)


def rerun(tmp_path, *extra):
    return train.main([*TINY, *extra, "--export-dir", str(tmp_path / "out")])


def one_error_line(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "Traceback" not in err, err
    return err


# Damaged and inconsistent backups -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("damage", "file", "what"),
    [
        (
            lambda b: truncate(b / "checkpoint" / "latest.weights.h5"),
            "latest.weights.h5",
            "damaged",
        ),
        (lambda b: (b / "run.json").write_text(""), "run.json", "cannot be read"),
        (lambda b: (b / "epoch_seconds.json").write_text("{"), "epoch_seconds.json", "cannot be read"),
        (lambda b: (b / "history.csv").unlink(), "history.csv", "has epochs none where the checkpoint has 0-1"),
        (
            lambda b: (b / "epoch_seconds.json").write_text('{"0": 1.0}'),
            "epoch_seconds.json",
            "lacks timings of epochs the checkpoint holds",
        ),
    ],
)
def test_a_damaged_backup_gives_one_line_naming_the_file(backup_copy, tmp_path, capsys, damage, file, what):
    damage(backup_copy)
    assert rerun(tmp_path) == 2
    err = one_error_line(capsys)
    assert err.startswith(f"error: the backup file {backup_copy}") and file in err and what in err, err
    assert err.endswith("remove the backup dir or pass another --backup-dir."), err
    assert not (tmp_path / "out").exists()


def test_resuming_with_other_hyperparameters_is_refused_unless_asked(backup_copy, tmp_path, capsys):
    assert rerun(tmp_path, "--lr", "0.05", "--label-smoothing", "0.1") == 2
    err = one_error_line(capsys)
    assert "holds a run with other settings (label_smoothing 0.0 -> 0.1, lr 0.1 -> 0.05)" in err, err
    assert "--resume-with-changes" in err
    assert rerun(tmp_path, "--lr", "0.05", "--resume-with-changes") == 0
    out = capsys.readouterr().out
    assert "--resume-with-changes: lr was 0.1 in the backup's run, now 0.05" in out
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["resumed_at_epoch"] == 2 and summary["resumed_with_changes"] == {"lr": [0.1, 0.05]}
    assert summary["config"]["lr"] == 0.05


def test_a_backup_of_another_model_is_refused_even_with_changes_allowed(backup_copy, tmp_path, capsys):
    argv = [*TINY, "--export-dir", str(tmp_path / "out"), "--resume-with-changes"]
    argv[argv.index("depth=8")] = "depth=14"
    assert train.main(argv) == 2
    assert "holds a run with other build_kwargs" in one_error_line(capsys)


# One run per backup ------------------------------------------------------------------------------------


def test_a_second_run_on_the_same_backup_is_refused_at_once(tmp_path, capsys):
    holder = Backup(str(tmp_path / "out.backup"))
    holder.lock()  # another run holds it
    try:
        started = time.perf_counter()
        assert rerun(tmp_path) == 2
        assert time.perf_counter() - started < 5  # before loading data or building anything
        err = one_error_line(capsys)
        assert err == (
            f"error: backup dir {tmp_path / 'out.backup'} is in use by another run (pid {os.getpid()}); wait for it "
            "to finish, or pass another --export-dir or --backup-dir."
        )
    finally:
        holder.release()
    assert not (tmp_path / "out").exists()


def test_a_stale_lock_of_a_killed_run_is_taken_over(tmp_path):
    (tmp_path / "out.backup").mkdir()
    (tmp_path / "out.backup" / "run.lock").write_text("pid 999999")  # its process is gone, and so is its flock
    assert rerun(tmp_path, "--epochs", "1") == 0
    assert sorted(os.listdir(tmp_path)) == ["out"]  # the lock file goes with the backup


# Folders that cannot be written, partial exports ----------------------------------------------------------


def test_an_unwritable_export_parent_is_refused_before_training(capsys):
    # /sys refuses new files even to root, as a read-only parent refuses them to a user.
    assert train.main([*TINY, "--export-dir", "/sys/reszoo-out", "--backup-dir", "/tmp/x.backup"]) == 2
    err = one_error_line(capsys)
    assert err == (
        "error: the export dir /sys/reszoo-out cannot be written: /sys is not writable (Permission denied). "
        "Pass another --export-dir."
    )


def test_an_unwritable_backup_parent_is_refused_before_training(tmp_path, capsys):
    assert rerun(tmp_path, "--backup-dir", "/sys/reszoo.backup") == 2
    assert "error: the backup dir /sys/reszoo.backup cannot be written" in one_error_line(capsys)


def test_stale_partial_exports_are_removed(tmp_path):
    stale, live = tmp_path / ".out.partial-999999", tmp_path / f".out.partial-{os.getppid()}"
    stale.mkdir()
    live.mkdir()  # a process that still runs: not ours to remove
    (tmp_path / ".other.partial-999999").mkdir()  # another export's
    assert rerun(tmp_path, "--epochs", "1") == 0
    assert not stale.exists() and live.exists() and (tmp_path / ".other.partial-999999").exists()


# Signals ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("signum", "kind"), [(signal.SIGINT, KeyboardInterrupt), (signal.SIGTERM, cli.Terminated)])
def test_a_signal_in_a_deferred_block_acts_when_the_block_is_over(signum, kind):
    steps = []
    with pytest.raises(kind), cli.signals_as_interrupts():
        with cli.interrupts_deferred():
            signal.raise_signal(signum)
            steps.append("the write went on")
        steps.append("not reached")
    assert steps == ["the write went on"]
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def tiny_backup(tmp_path):
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    backup = SafeBackupAndRestore(str(tmp_path / "b"))
    backup.set_model(model)
    return model, backup


def test_sigterm_during_a_backup_waits_until_both_files_are_written(tmp_path, monkeypatch):
    # The CI failure this answers: SIGTERM inside Keras' in-place metadata write left an empty
    # training_metadata.json, and the run ended in a JSONDecodeError traceback.
    model, backup = tiny_backup(tmp_path)
    save_weights = model.save_weights

    def signalled_save(filepath, **kwargs):
        signal.raise_signal(signal.SIGTERM)
        save_weights(filepath, **kwargs)

    monkeypatch.setattr(model, "save_weights", signalled_save)
    with pytest.raises(cli.Terminated), cli.signals_as_interrupts():
        backup.on_epoch_end(4)
    assert sorted(os.listdir(tmp_path / "b")) == ["latest.weights.h5", "training_metadata.json"]
    assert json.loads((tmp_path / "b" / "training_metadata.json").read_text()) == {"epoch": 5, "batch": 0}
    monkeypatch.undo()
    model.layers[0].kernel.assign([[7.0], [8.0]])
    model.load_weights(tmp_path / "b" / "latest.weights.h5")
    assert model.layers[0].kernel.numpy().ravel().tolist() != [7.0, 8.0]


def test_a_backup_that_fails_midway_leaves_the_previous_epoch_whole(tmp_path, monkeypatch):
    model, backup = tiny_backup(tmp_path)
    backup.on_epoch_end(0)
    before = {name: (tmp_path / "b" / name).read_bytes() for name in os.listdir(tmp_path / "b")}

    def full_disk(filepath, **kwargs):
        with open(filepath, "wb") as f:
            f.write(b"half")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(model, "save_weights", full_disk)
    with pytest.raises(OSError, match="No space left"):
        backup.on_epoch_end(1)
    assert {name: (tmp_path / "b" / name).read_bytes() for name in os.listdir(tmp_path / "b")} == before


@pytest.mark.parametrize(
    ("signum", "status", "word"), [(signal.SIGINT, 130, "interrupted"), (signal.SIGTERM, 143, "terminated")]
)
def test_ctrl_c_and_sigterm_print_one_line_and_keep_the_exit_status(tmp_path, signum, status, word):
    argv = [*TINY, "--epochs", "200", "--export-dir", str(tmp_path / "out")]
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    log = open(tmp_path / "out.log", "w")  # noqa: SIM115 - closed below
    process = subprocess.Popen(
        [sys.executable, "-m", "reszoo.train", *argv], stdout=log, stderr=subprocess.PIPE, text=True, env=env
    )
    deadline = time.time() + 180
    while "Epoch 3/200" not in (tmp_path / "out.log").read_text() and time.time() < deadline:
        time.sleep(0.5)
    process.send_signal(signum)
    _, err = process.communicate(timeout=120)
    log.close()
    assert process.returncode == status, err
    lines = [line for line in err.strip().splitlines() if line.strip()]
    assert lines[-1].startswith(f"{word} in epoch ") and str(tmp_path / "out.backup") in lines[-1], err
    assert lines[-1].endswith("the same command resumes from there."), err
    assert "Traceback" not in err and "KeyboardInterrupt" not in err, err
    assert sorted(os.listdir(tmp_path)) == ["out.backup", "out.log"]


# Data -------------------------------------------------------------------------------------------------


def test_a_folder_with_one_class_says_so(tmp_path):
    for split in ("train", "test"):
        (tmp_path / split / "cat").mkdir(parents=True)
        Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(tmp_path / split / "cat" / "0.png")
    with pytest.raises(data.DatasetError, match=r"train has one class folder \(cat\); a classifier needs at least 2"):
        data.describe(f"folder:{tmp_path}")
    with pytest.raises(data.DatasetError, match="has one class folder"):
        data.load_dataset(f"folder:{tmp_path}", batch_size=2)


# The first thing a user meets -----------------------------------------------------------------------------

_HELP_PROBE = """
import runpy, sys
sys.argv = ["reszoo.train", *sys.argv[1:]]
try:
    runpy.run_module("reszoo.train", run_name="__main__")
except SystemExit as done:
    print("exit", done.code, "tensorflow" in sys.modules, "keras" in sys.modules)
"""


@pytest.mark.parametrize(("argv", "code"), [(["--help"], 0), (["--bogus"], 2), (["--mixup", "x"], 2)])
def test_help_does_not_import_tensorflow(argv, code):
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    done = subprocess.run([sys.executable, "-c", _HELP_PROBE, *argv], capture_output=True, text=True, env=env)
    assert done.stdout.strip().splitlines()[-1] == f"exit {code} False False", done.stdout + done.stderr
    if code:
        assert done.stderr.count("\n") == 1 and done.stderr.startswith("error: "), done.stderr


def test_a_run_keeps_tensorflow_start_up_lines_off_the_terminal(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    argv = [sys.executable, "-m", "reszoo.train", *TINY, "--epochs", "0"]  # refused after the config resolved
    done = subprocess.run(argv, capture_output=True, text=True, env=env)
    assert done.returncode == 2 and done.stderr == "error: --epochs must be >= 1. Received: --epochs=0\n", done.stderr
    # Past TensorFlow's import and its first device probe (the strategy), refused at the data: still one line.
    argv = [sys.executable, "-m", "reszoo.train", "--dataset", "cifar10", "--data-dir", str(tmp_path / "none")]
    done = subprocess.run([*argv, "--export-dir", str(tmp_path / "out")], capture_output=True, text=True, env=env)
    assert done.returncode == 2 and done.stderr.startswith("error: cifar10 is not prepared"), done.stderr
    assert done.stderr.count("\n") == 1, done.stderr


def test_images_smaller_than_the_networks_downsampling_are_refused(tmp_path, capsys):
    argv = [*TINY, "--export-dir", str(tmp_path / "out")]
    argv[argv.index("--image-size") + 1] = "2"
    assert train.main(argv) == 2
    assert one_error_line(capsys) == (
        "error: fast_resnet8 downsamples its input 4x (its stages' strides), so it needs images of at least 4x4 "
        "pixels. Received: 2x2 images (--image-size)"
    )
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(("name", "factor"), [("resnet20", 4), ("wrn16_8", 4), ("efficientnet_b0", 32)])
def test_total_downsampling_follows_the_strides(name, factor):
    import reszoo

    assert loop.total_downsampling(reszoo.build(name)) == factor


@pytest.mark.parametrize(
    ("signum", "status", "word"), [(signal.SIGINT, 130, "interrupted"), (signal.SIGTERM, 143, "terminated")]
)
def test_ctrl_c_and_sigterm_in_tune_print_one_line_naming_the_project(tmp_path, signum, status, word):
    for split, count in (("train", 8), ("test", 2)):
        for index, name in enumerate(("cat", "dog")):
            (tmp_path / "data" / split / name).mkdir(parents=True)
            for i in range(count):
                pixels = np.full((8, 8, 3), 100 * index + i, np.uint8)
                Image.fromarray(pixels).save(tmp_path / "data" / split / name / f"{i}.png")
    project = tmp_path / "project"
    argv = ["--family", "fast_resnet", "--epochs", "200", "--dataset", f"folder:{tmp_path / 'data'}"]
    argv += ["--project-dir", str(project), "--space", "depth=8", "--space", "attention=none", "--no-export"]
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    log = open(tmp_path / "tune.log", "w")  # noqa: SIM115 - closed below
    process = subprocess.Popen(
        [sys.executable, "-m", "reszoo.tune", *argv], stdout=log, stderr=subprocess.PIPE, text=True, env=env
    )
    deadline = time.time() + 180
    while "Epoch 3/200" not in (tmp_path / "tune.log").read_text() and time.time() < deadline:
        time.sleep(0.5)
    process.send_signal(signum)
    _, err = process.communicate(timeout=120)
    log.close()
    assert process.returncode == status, err
    last = [line for line in err.strip().splitlines() if line.strip()][-1]
    assert last == (
        f"{word}: the search and its trials' backups are in {project}; the same command resumes (the "
        "interrupted trial at its last completed epoch)."
    ), err
    assert "Traceback" not in err, err

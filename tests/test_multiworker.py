"""--strategy multiworker: two worker processes on 127.0.0.1 train together like one process would.

Keras 3's fit does not run under MultiWorkerMirroredStrategy (keras-team/keras#20585);
reszoo.distribute.fix_fit_for_multiworker is the workaround these tests hold in place.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf

from reszoo import distribute, train

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# Global batch 8 = 4 per replica; 64 images, no augmentation (the comparison is exact up to float rounding).
ARGS = ["--model", "fast_resnet", "--set", "depth=8", "--dataset", "synthetic:64", "--image-size", "8"]
ARGS += ["--epochs", "2", "--batch-size", "8", "--augment", "none", "--seed", "0"]


def free_ports(count):
    sockets = [socket.socket() for _ in range(count)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def start_worker(index, cluster, export_dir, log_path):
    tf_config = {"cluster": {"worker": cluster}, "task": {"type": "worker", "index": index}}
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", KERAS_BACKEND="tensorflow", TF_CONFIG=json.dumps(tf_config))
    with open(log_path, "w") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "reszoo.train", *ARGS, "--strategy", "multiworker", "--export-dir", export_dir],
            cwd=REPO,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )


def run_two_workers(tmp_path, expected_codes=(0, 0)):
    cluster = [f"127.0.0.1:{port}" for port in free_ports(2)]
    workers = [start_worker(i, cluster, str(tmp_path / f"w{i}"), tmp_path / f"w{i}.log") for i in range(2)]
    try:
        codes = [worker.wait(timeout=300) for worker in workers]
    finally:
        for worker in workers:  # one failing worker leaves the other waiting on a collective
            if worker.poll() is None:
                worker.kill()
                worker.wait()
    logs = [(tmp_path / f"w{i}.log").read_text() for i in range(2)]
    assert tuple(codes) == expected_codes, "\n\n".join(log[-3000:] for log in logs)
    return logs


def test_two_workers_train_like_one_process_on_the_same_global_batch(tmp_path):
    logs = run_two_workers(tmp_path)
    digests = [re.search(r"trainable weights sha256 (\w+)", log).group(1) for log in logs]
    assert digests[0] == digests[1]  # synchronous training: every worker holds the same weights
    assert "multiworker strategy x2" in logs[0] and "the chief writes the export" in logs[1]
    # The chief (worker 0) alone exported; worker 1 wrote nothing there, and no backups remain.
    assert sorted(os.listdir(tmp_path)) == ["w0", "w0.log", "w1.log"]
    summary = json.loads((tmp_path / "w0" / "summary.json").read_text())
    assert (summary["strategy"], summary["replicas"], summary["workers"]) == ("multiworker", 2, 2)
    assert [int(line.split(",")[0]) for line in (tmp_path / "w0" / "history.csv").read_text().splitlines()[1:]] == [
        0,
        1,
    ]

    # One process, two replicas (tests/conftest.py's two logical CPUs), the same global batch.
    single = train.run([*ARGS, "--strategy", "mirrored", "--export-dir", str(tmp_path / "single")])
    assert single["replicas"] == 2
    multi = keras.models.load_model(tmp_path / "w0" / "model.keras")
    local = keras.models.load_model(tmp_path / "single" / "model.keras")
    assert distribute.weights_digest(multi) == digests[0]
    for a, b in zip(multi.trainable_weights, local.trainable_weights, strict=True):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), atol=1e-4, err_msg=a.path)
    for a, b in zip(multi.weights, local.weights, strict=True):  # BN moving statistics too
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-3, atol=1e-4, err_msg=a.path)
    assert summary["train_loss"] == pytest.approx(single["train_loss"], rel=1e-4)
    assert summary["test_error"] == pytest.approx(single["test_error"])


def test_workers_whose_backups_disagree_refuse_to_resume_instead_of_hanging(tmp_path):
    # Worker 1 alone has a backup of epoch 0 (a kill between the two workers' end-of-epoch backups).
    checkpoint = tmp_path / "w1.backup-worker1" / "checkpoint"
    checkpoint.mkdir(parents=True)
    (checkpoint / "latest.weights.h5").write_bytes(b"")
    (checkpoint / "training_metadata.json").write_text('{"epoch": 1, "batch": 0}')
    logs = run_two_workers(tmp_path, expected_codes=(2, 2))
    # Worker 1's backup is damaged besides (an empty weights file, no history): it says so, and worker 0,
    # told through the same collective, stops too instead of waiting for it.
    assert "error: the workers' backups end at different epochs (-1, 0; this worker's: 0)" in logs[0]
    assert f"error: the backup file {tmp_path / 'w1.backup-worker1' / 'checkpoint'}" in logs[1]
    assert not (tmp_path / "w0").exists()


def test_cluster_comes_from_tf_config_or_slurm():
    assert distribute.cluster_source({"TF_CONFIG": '{"cluster": {}}'}) == "TF_CONFIG"
    slurm = {"SLURM_PROCID": "1", "SLURM_STEP_NUM_TASKS": "2", "SLURM_STEP_NODELIST": "node[1-2]"}
    assert distribute.cluster_source(slurm) == "SLURM"
    assert distribute.cluster_source({**slurm, "TF_CONFIG": '{"cluster": {}}'}) == "TF_CONFIG"
    assert distribute.cluster_source({"SLURM_PROCID": "0"}) is None  # sbatch alone, no srun step
    assert distribute.cluster_source({}) is None


def test_multiworker_without_a_cluster_or_a_seed_is_refused(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("TF_CONFIG", raising=False)
    for name in distribute.SLURM_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    argv = [*ARGS[:-2], "--strategy", "multiworker", "--export-dir", str(tmp_path / "out")]
    assert train.main(argv) == 2
    assert capsys.readouterr().err.startswith("error: --strategy multiworker needs --seed")
    assert train.main([*argv, "--seed", "0"]) == 2
    assert capsys.readouterr().err.startswith("error: --strategy multiworker needs the cluster in TF_CONFIG")
    assert os.listdir(tmp_path) == []


def test_full_batches_drops_the_short_last_batch_and_keeps_the_count():
    dataset = tf.data.Dataset.from_tensor_slices((np.zeros((20, 2, 2, 3), "float32"), np.zeros(20, "int32"))).batch(8)
    kept = distribute.full_batches(dataset, 8, 20)
    assert int(kept.cardinality()) == 2
    assert [int(images.shape[0]) for images, _ in kept] == [8, 8]


@pytest.mark.slow  # about 50 s of two workers on 2 cores: make test-all runs it
def test_a_worker_killed_mid_epoch_stops_the_other_and_the_same_commands_resume(tmp_path):
    """SIGKILL of worker 1 mid-epoch: worker 0 stops within a bounded time with one clear line; the two
    commands started again resume, every epoch once, with the same weights on both workers."""
    import signal
    import time

    global ARGS
    saved, ARGS = ARGS, [*ARGS[: ARGS.index("--epochs")], "--epochs", "6", *ARGS[ARGS.index("--epochs") + 2 :]]
    try:
        cluster = [f"127.0.0.1:{port}" for port in free_ports(2)]
        workers = [start_worker(i, cluster, str(tmp_path / f"w{i}"), tmp_path / f"w{i}.log") for i in range(2)]
        deadline = time.time() + 240
        while "Epoch 3/6" not in (tmp_path / "w1.log").read_text() and time.time() < deadline:
            time.sleep(0.2)
        workers[1].send_signal(signal.SIGKILL)
        killed = time.time()
        try:
            code = workers[0].wait(timeout=120)
        finally:
            for worker in workers:
                if worker.poll() is None:
                    worker.kill()
        stopped_after = time.time() - killed
        log0 = (tmp_path / "w0.log").read_text()
        assert code != 0 and stopped_after < 90, log0[-3000:]
        last = [line for line in log0.strip().splitlines() if line.strip()][-1]
        assert last.startswith("error: another worker stopped (worker 1 stopped answering"), log0[-3000:]
        assert "start every worker again with the same command to resume." in last and code == 4
        assert not (tmp_path / "w0").exists()

        cluster = [f"127.0.0.1:{port}" for port in free_ports(2)]
        workers = [start_worker(i, cluster, str(tmp_path / f"w{i}"), tmp_path / f"r{i}.log") for i in range(2)]
        codes = [worker.wait(timeout=300) for worker in workers]
        logs = [(tmp_path / f"r{i}.log").read_text() for i in range(2)]
        assert codes == [0, 0], "\n\n".join(log[-3000:] for log in logs)
        assert all("resuming from the backup" in log for log in logs)
        digests = [re.search(r"trainable weights sha256 (\w+)", log).group(1) for log in logs]
        assert digests[0] == digests[1]
        epochs = [int(line.split(",")[0]) for line in (tmp_path / "w0" / "history.csv").read_text().splitlines()[1:]]
        assert epochs == [0, 1, 2, 3, 4, 5]
    finally:
        ARGS = saved

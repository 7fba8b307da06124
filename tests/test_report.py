"""reszoo.report: curves and the results table from run directories."""

import csv
import json

import pytest

from reszoo import report


def write_run(path, model, dataset, accuracies, val_accuracies, seconds, params=269_722, test_error=None):
    path.mkdir()
    with open(path / "history.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["epoch", "accuracy", "loss", "val_accuracy", "val_loss", "epoch_seconds"])
        for i, (a, v, s) in enumerate(zip(accuracies, val_accuracies, seconds, strict=True)):
            writer.writerow([i, a, 1.0, v, 1.0, s])
    summary = {
        "model": model,
        "dataset": dataset,
        "params": params,
        "epoch_seconds": seconds,
        "test_error": test_error if test_error is not None else 100 * (1 - val_accuracies[-1]),
    }
    (path / "summary.json").write_text(json.dumps(summary))
    return str(path)


def test_report_plots_and_tabulates(tmp_path, capsys):
    a = write_run(tmp_path / "a", "resnet20", "cifar10", [0.5, 0.8, 0.9], [0.4, 0.7, 0.9125], [30.0, 20.0, 22.0])
    b = write_run(tmp_path / "b", "fast_resnet20", "cifar100", [0.3, 0.6], [0.2, 0.5], [15.0, 11.0], params=269_146)
    out = tmp_path / "curves.png"
    assert report.main([a, b, "--out", str(out), "--markdown"]) == 0
    printed = capsys.readouterr().out
    assert "| resnet20 | cifar10 | 0.27 | 8.75 | 21.00 |" in printed
    assert "| fast_resnet20 | cifar100 | 0.27 | 50.00 | 11.00 |" in printed
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert out.stat().st_size > 10_000


def test_load_run_converts_accuracy_to_error_percent(tmp_path):
    run = report.load_run(write_run(tmp_path / "r", "m", "cifar10", [0.75], [0.5], [3.0]))
    assert run.epochs == [0]
    assert run.train_error == pytest.approx([25.0])
    assert run.test_error == pytest.approx([50.0])
    assert run.mean_epoch_seconds == pytest.approx(3.0)


def test_missing_or_unfinished_run_is_a_clear_error(tmp_path, capsys):
    assert report.main([str(tmp_path / "nope")]) == 2
    assert "does not exist" in capsys.readouterr().err
    (tmp_path / "partial").mkdir()
    assert report.main([str(tmp_path / "partial")]) == 2
    assert "not a finished reszoo run: summary.json is missing" in capsys.readouterr().err

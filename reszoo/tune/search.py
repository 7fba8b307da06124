"""One search from start to end: check, open the project, search, report, retrain and export the best.

``run_search(options)`` is the library entry point behind ``python -m reszoo.tune``; it takes checked
``SearchOptions`` (``reszoo.tune.cli.parse_args``) and returns the results.
"""

from __future__ import annotations

import importlib.util
import json
import os
from typing import Any

import keras

from reszoo.callbacks import read_json, write_json_atomic
from reszoo.cli import UsageError, logger
from reszoo.training import loop
from reszoo.tune.hypermodel import Context, SearchError, SearchStopped, load_bundle, make_tuner
from reszoo.tune.options import CONFIG_FILE, DEFAULT_VAL_FRACTION, EXPORT_FILE, SearchOptions
from reszoo.tune.results import best_row, format_table, results_rows, write_results

BAYESIAN_NEEDS = ("scipy", "sklearn")  # keras-tuner's BayesianOptimization imports them (keras-tuner[bayesian])
# What must match for a project folder to be continued.
RESUME_KEYS = ("family", "dataset", "image_size", "val_split", "seed", "epochs", "tuner", "recipe", "space")

log = logger("tune")


def _require(ok: bool, message: str) -> None:
    if not ok:
        raise UsageError(message)


def check_environment(tuner: str) -> None:
    """The TensorFlow backend, tensorboard (keras-tuner's hparams plugin) and, for bayesian, scipy and sklearn."""
    _require(
        keras.backend.backend() == "tensorflow",
        f"reszoo.tune needs Keras' TensorFlow backend. Received: KERAS_BACKEND={keras.backend.backend()}",
    )
    # keras-tuner 1.4 imports tensorboard's hparams plugin in every trial on TensorFlow: without it
    # every trial fails with an ImportError.
    _require(
        importlib.util.find_spec("tensorboard") is not None,
        "keras-tuner needs the tensorboard package with TensorFlow (pip install tensorboard).",
    )
    missing = [name for name in BAYESIAN_NEEDS if importlib.util.find_spec(name) is None]
    _require(
        tuner != "bayesian" or not missing,
        f"--tuner bayesian needs {' and '.join(missing)} (pip install 'keras-tuner[bayesian]'). "
        "Received: --tuner bayesian",
    )


def resolve_val_split(options: SearchOptions) -> SearchOptions:
    """``--val-split`` default: 10% of the training split (at least one image). Loads the data once to count."""
    if options.val_split is not None:
        return options
    size = load_bundle(options, batch_size=64, augment="none", val_split=0).train_size
    return options.replace(val_split=max(1, round(DEFAULT_VAL_FRACTION * size)))


def project_config(options: SearchOptions) -> dict[str, Any]:
    return {
        "family": options.family,
        "dataset": options.dataset,
        "image_size": options.image_size,
        "val_split": options.val_split,
        "seed": options.seed,
        "epochs": options.epochs,
        "tuner": options.tuner,
        "recipe": options.recipe,
        "space": options.search_space.description(),
    }


def open_project(options: SearchOptions) -> None:
    """Create the project folder or check that the existing one holds the same search."""
    config = project_config(options)
    path = os.path.join(options.project_dir, CONFIG_FILE)
    previous = read_json(path, None)
    if previous is not None:
        normalized = json.loads(json.dumps(config, default=str))
        changed = [k for k in RESUME_KEYS if previous.get(k) != normalized.get(k)]
        _require(
            not changed,
            f"project dir {options.project_dir} holds a search with other {', '.join(changed)} "
            f"({'; '.join(_difference(k, previous.get(k), normalized.get(k)) for k in changed)}); "
            "rerun with the same arguments to continue it, or pass another --project-dir.",
        )
    elif os.path.isdir(options.project_dir) and os.listdir(options.project_dir):
        raise UsageError(f"project dir {options.project_dir} exists and is not a reszoo.tune project; choose another.")
    os.makedirs(options.project_dir, exist_ok=True)
    write_json_atomic(path, {**config, "max_trials": options.max_trials, "max_params": options.max_params})


def _difference(key: str, before, now) -> str:
    """``epochs`` 3 -> 5, or for the space the knobs whose values differ."""
    if key == "space" and isinstance(before, dict):
        knobs = sorted(k for k in {*before, *now} if before.get(k) != now.get(k))
        return (
            f"space knobs {', '.join(knobs)}: {[before.get(k) for k in knobs]} there, {[now.get(k) for k in knobs]} now"
        )
    return f"{key}={before!r} there, {now!r} now"


def check_budget(options: SearchOptions, context: Context) -> None:
    """Refuse a ``--max-params`` below the space's smallest network before any trial."""
    if options.max_params is None:
        return
    kwargs = context.space.builder_kwargs(context.space.smallest())
    params = context.counter.count(options.family, kwargs)
    shown = ", ".join(f"{k}={v!r}" for k, v in kwargs.items())
    _require(
        params <= options.max_params,
        f"--max-params {options.max_params:,} is below the smallest {options.family} in the search space "
        f"({shown}: {params:,} trainable parameters); nothing fits. Received: --max-params={options.max_params}",
    )


def run_search(options: SearchOptions) -> dict[str, Any]:
    """Search, print and write the results table, retrain and export the best; returns the results.

    Returns:
        ``{"trials": rows, "best": row or None, "ran": trial ids run by this call, "export_dir":
        path or None, "summary": the retraining's summary or None, "stopped": reason or None,
        "project_dir": path}``; with ``show_space``, ``{"space": the space's description}``.

    Raises:
        UsageError: bad arguments, unsupported family, missing data, nothing within --max-params.
        SearchError: trials keep failing, or every trial failed.
        DivergenceError: the retraining diverged.
    """
    if options.show_space:
        print(options.search_space.table())
        return {"space": options.search_space.description()}
    check_environment(options.tuner)
    options = resolve_val_split(options)
    context = Context(options)
    check_budget(options, context)  # before anything is written
    open_project(options)
    tuner = make_tuner(options, context)
    log(
        f"{options.tuner} search over {options.family} on {context.probe.name}: {context.probe.train_size} train / "
        f"{context.probe.val_size} validation images (the objective), {options.epochs} epochs per trial, "
        f"project {options.project_dir}"
    )
    stopped = None
    try:
        tuner.search(epochs=options.epochs, verbose=1)
    except SearchStopped as stop:
        stopped = str(stop)
        log(f"search stopped: {stopped}")
    except SearchError:
        report(tuner, context)
        raise
    rows, best = report(tuner, context)
    result = {
        "trials": rows,
        "best": best,
        "ran": list(tuner.ran),
        "stopped": stopped,
        "project_dir": options.project_dir,
        "export_dir": None,
        "summary": None,
    }
    if best is None:
        raise_no_result(rows, options)
    if not options.no_export:
        result["summary"] = retrain_and_export(context, best)
        result["export_dir"] = result["summary"]["export_dir"]
    return result


def report(tuner, context: Context) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    """Print the results table and write it into the project folder; the rows and the best row."""
    project_dir = context.options.project_dir
    rows = results_rows(tuner, context.space)
    best = best_row(rows)
    write_results(project_dir, rows, best)
    print(format_table(rows), flush=True)
    if best is not None:
        log(
            f"best: trial {best['trial']}, validation error {best['val_error']:.2f}% "
            f"({len(rows)} trials; results.json and results.csv in {project_dir})"
        )
    return rows, best


def raise_no_result(rows: list[dict[str, Any]], options: SearchOptions) -> None:
    """No trial completed: a usage error when every one was over budget, a search error otherwise."""
    if rows and all(r["status"] == "rejected" for r in rows):
        raise UsageError(
            f"every trial ({len(rows)}) exceeded --max-params {options.max_params:,}; raise it or narrow the space "
            "with --space."
        )
    reasons = [f"trial {r['trial']} {r['status']}: {r['reason']}" for r in rows if r["status"] != "completed"]
    raise SearchError(f"no trial completed ({len(rows)} run). " + ("; ".join(reasons[-3:]) or "keras-tuner ran none."))


def retrain_and_export(context: Context, best: dict[str, Any]) -> dict[str, Any]:
    """``reszoo.train.run`` on the best configuration; an export of the same command is kept."""
    options = context.options
    export_dir = options.export_dir or os.path.join(options.project_dir, f"best_trial_{best['trial']}")
    config = context.train_config(best["hyperparameters"], export_dir=export_dir)
    marker = os.path.join(options.project_dir, EXPORT_FILE)
    done = read_json(marker, None)
    summary_path = os.path.join(export_dir, "summary.json")
    if done and done.get("config") == config.to_dict() and os.path.isfile(summary_path):
        log(f"the best configuration is already exported in {export_dir}")
        return read_json(summary_path, {})
    log(f"retraining the best configuration: {config.command_line()}")
    keras.backend.clear_session()
    summary = loop.run(config)
    record = {"config": config.to_dict(), "command": config.command_line(), "trial": best["trial"]}
    write_json_atomic(marker, {**record, "export_dir": export_dir})
    return summary

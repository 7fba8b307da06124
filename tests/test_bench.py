"""reszoo.bench, the PyTorch peer and FusedBatchNormalization.

Benchmarks run on tiny settings (depth 8, batch 8, a step or two); the tests
check the shape and internal consistency of what they report, never a timing.
"""

import ast
import functools
import importlib.util
import json
import os
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf

import reszoo
from reszoo import bench
from reszoo.hardware import SPEED_FLAGS
from reszoo.layers.fused_bn import FusedBatchNormalization

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TINY = ["--batch-size", "8", "--steps", "1", "--rounds", "2", "--warmup-steps", "1"]


def run_cli(argv, tmp_path, capsys):
    out = tmp_path / "result.json"
    returned = bench.run([*argv, "--out", str(out)])
    printed = capsys.readouterr().out
    written = json.loads(out.read_text())
    assert written["command"] == returned["command"]
    return written, printed


def one_error_line(capsys):
    """The message of the one ``error:`` line a failed ``bench.main`` printed on stderr (and nothing else)."""
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    return lines[0]


def assert_machine(machine):
    assert machine["backend"] == keras.backend.backend()
    assert machine["cpu_count"] >= 1 and machine["cpus_usable"] >= 1
    assert {"python", "keras", "numpy", "reszoo"} <= set(machine["versions"])
    assert machine["date"][:4].isdigit()
    # The CPU's name and the vector / reduced-precision extensions oneDNN picks kernels by, in every result.
    assert machine["cpu_model"] and set(machine["cpu_flags"]) <= set(SPEED_FLAGS)
    with open("/proc/cpuinfo") as f:
        flags = next(line for line in f if line.startswith("flags")).split()
    assert machine["cpu_flags"] == [flag for flag in SPEED_FLAGS if flag in flags]


# main(argv) -> int ------------------------------------------------------------------------

TWO_PRESETS = ("resnet20", "fast_resnet20")


def test_main_returns_0_and_writes_the_result(tmp_path, capsys, monkeypatch):
    chosen = {name: reszoo.presets()[name] for name in TWO_PRESETS}
    monkeypatch.setattr(reszoo, "presets", lambda: dict(chosen))  # two small builds, not the whole zoo
    out = tmp_path / "params.json"
    assert bench.main(["params", "--markdown", "--out", str(out)]) == 0
    printed = capsys.readouterr()
    assert printed.err == ""
    assert "| resnet | resnet20 | 269,722 | 0.27 | 269,722 | ✓ |" in printed.out
    assert [r["preset"] for r in json.loads(out.read_text())["rows"]] == list(TWO_PRESETS)


@pytest.mark.parametrize(
    "argv, says",
    [
        (["units", "--steps", "0"], "--steps"),
        (["units", "--jit-compile", "maybe"], "--jit-compile"),
        (["throughput", "--model", "resnet", "--set", "depth"], "KEY=VALUE"),
        (["throughput"], "--model"),
        (["bogus"], "bogus"),
        ([], "command"),
    ],
)
def test_main_returns_2_with_one_error_line_on_bad_flags(argv, says, capsys):
    assert bench.main(argv) == 2
    assert says in one_error_line(capsys)


def test_main_help_returns_0(capsys):
    assert bench.main(["units", "--help"]) == 0
    assert "--depths" in capsys.readouterr().out


def test_tensorflow_only_commands_refuse_other_backends_with_status_1(monkeypatch, capsys):
    monkeypatch.setattr(keras.backend, "backend", lambda: "jax")
    assert bench.main(["variants", "--model", "resnet20"]) == 1
    assert "KERAS_BACKEND=tensorflow" in one_error_line(capsys)
    assert bench.main(["profile", "--model", "resnet20"]) == 1
    assert "profiler" in one_error_line(capsys)


def test_python_m_reszoo_bench_exits_with_mains_status():
    command = [sys.executable, "-m", "reszoo.bench", "units", "--depths", "21"]
    completed = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    assert completed.returncode == 2
    assert completed.stderr.strip().splitlines()[-1].startswith("error: argument --depths")


# bench units ------------------------------------------------------------------------------


def test_units_reports_three_kinds_per_depth_with_consistent_ratios(tmp_path, capsys):
    result, printed = run_cli(["units", "--depths", "8", *TINY], tmp_path, capsys)
    assert_machine(result["machine"])
    assert result["settings"]["batch_size"] == 8
    rows = result["rows"]
    assert [(r["depth"], r["kind"]) for r in rows] == [(8, "resnet"), (8, "fast_type1"), (8, "fast_type2")]
    assert [r["model"] for r in rows] == ["preact_resnet8", "fast_resnet8", "fast_resnet8_type2"]
    assert [r["params"] for r in rows] == [75_290, 75_162, 75_066]
    resnet = rows[0]
    for r in rows:
        assert len(r["round_images_per_second"]) == 2
        assert r["images_per_second"] > 0 and r["images_per_cpu_second"] > 0
        assert r["epoch_seconds"] == pytest.approx(50_000 / r["images_per_second"])
        assert r["ratio_to_resnet"] == pytest.approx(r["epoch_seconds"] / resnet["epoch_seconds"])
        assert r["paper_ratio_to_resnet"] is None  # the seed timed depths 20, 56, 110, 668 only
    assert resnet["ratio_to_resnet"] == 1.0
    assert "fast_resnet8_type2" in printed and "ratio" in printed


def test_fit_times_the_step_and_the_cli_path_of_each_kind_side_by_side(tmp_path, capsys):
    argv = ["fit", "--depths", "8", "--kinds", "resnet,fast_type2", "--batch-size", "8", "--steps", "2"]
    result, printed = run_cli(
        [*argv, "--rounds", "2", "--with-autotune", "--steps-per-execution", "2"], tmp_path, capsys
    )
    assert_machine(result["machine"])
    assert result["settings"]["kinds"] == ["resnet", "fast_type2"] and result["settings"]["steps"] == 2
    assert result["settings"]["with_autotune"] is True and result["settings"]["steps_per_execution"] == 2
    rows = result["rows"]
    assert [(r["depth"], r["kind"], r["model"]) for r in rows] == [
        (8, "resnet", "preact_resnet8"),
        (8, "fast_type2", "fast_resnet8_type2"),
    ]
    resnet, fast = rows
    for r in rows:
        assert len(r["step_round_images_per_second"]) == len(r["cli_round_images_per_second"]) == 2
        assert r["cli_to_step"] == pytest.approx(r["cli_images_per_second"] / r["step_images_per_second"])
        assert len(r["cli_autotune_round_images_per_second"]) == len(r["cli_round_steal_share"]) == 2
        assert r["autotune_to_cli"] == pytest.approx(r["cli_autotune_images_per_second"] / r["cli_images_per_second"])
        assert len(r["cli_spe_round_images_per_second"]) == 2
        assert r["spe_to_cli"] == pytest.approx(r["cli_spe_images_per_second"] / r["cli_images_per_second"])
    assert resnet["step_ratio_to_baseline"] == resnet["cli_ratio_to_baseline"] == 1.0
    assert fast["cli_ratio_to_baseline"] == pytest.approx(
        resnet["cli_images_per_second"] / fast["cli_images_per_second"]
    )
    assert "CLI / step" in printed and "autotune / CLI" in printed and "fast_resnet8_type2" in printed
    assert "2 steps/call / CLI" in printed


def test_the_plain_list_of_unit_kinds_is_units():
    from reszoo.bench import choices, units

    assert choices.UNIT_KIND_NAMES == tuple(units.UNIT_KINDS)


def test_paper_ratios_are_the_seeds():
    ratio = {d: s["fast_type1"] / s["resnet"] for d, s in bench.PAPER_EPOCH_SECONDS.items()}
    assert [round(ratio[d], 2) for d in (20, 56, 110)] == [0.73, 0.70, 0.64]


@pytest.mark.parametrize("text", ["21", "20,abc", "", "2"])
def test_units_rejects_depths_that_are_not_6n_plus_2(text, capsys):
    assert bench.main(["units", "--depths", text]) == 2
    assert "6n+2" in one_error_line(capsys)


# FLOPs ------------------------------------------------------------------------------------


@pytest.mark.parametrize("name, macs, printed", [("resnet20", 40_551_040, 40.55), ("resnet32", 68_862_592, 68.86)])
def test_flop_counter_reproduces_he_et_al(name, macs, printed):
    count = bench.count_forward_macs(reszoo.build(name))
    assert count.macs == macs
    assert round(count.macs / 1e6, 2) == printed  # REFERENCE.md: ResNet-20 40.55M, ResNet-32 68.86M
    assert count.uncounted == []
    assert count.training_flops == 6 * macs  # 3 x forward, 2 FLOPs per multiply-add


def test_flop_counter_counts_every_call_of_a_shared_layer_and_lists_what_it_cannot_count():
    @keras.saving.register_keras_serializable(package="reszoo_test")
    class HiddenDense(keras.layers.Layer):
        def build(self, input_shape):
            self.kernel = self.add_weight(shape=(input_shape[-1], 3), name="kernel")

        def call(self, x):
            return keras.ops.matmul(x, self.kernel)

    inputs = keras.Input((8, 8, 2))
    x = keras.layers.Conv2D(4, 3, strides=2, padding="same", use_bias=False, name="conv")(inputs)  # 4x4x4 out
    shared = keras.layers.Dense(5, name="shared")  # 4 -> 5, called twice
    h = shared(keras.layers.GlobalAveragePooling2D()(x))
    y = shared(keras.layers.Dense(4, name="other")(h))  # 5 -> 4
    model = keras.Model(inputs, [y, HiddenDense(name="hidden")(h)])
    count = bench.count_forward_macs(model)
    assert count.macs == 4 * 4 * (3 * 3 * 2 * 4) + 2 * (4 * 5) + 5 * 4
    assert count.uncounted == ["hidden"]


# bench throughput / variants / pipeline ---------------------------------------------------------


def test_throughput_reports_speed_memory_and_flops(tmp_path, capsys):
    result, printed = run_cli(["throughput", "--model", "resnet", "--set", "depth=8", *TINY], tmp_path, capsys)
    assert result["model"] == "resnet8" and result["builder_args"] == {"name": "resnet", "depth": 8}
    assert result["train_images_per_second"] > 0 and result["inference_images_per_second"] > 0
    macs = bench.count_forward_macs(reszoo.build("resnet", depth=8)).macs
    assert result["forward_macs_per_image"] == macs
    assert result["training_flops_per_second"] == pytest.approx(6 * macs * result["train_images_per_second"])
    assert result["inference_flops_per_second"] == pytest.approx(2 * macs * result["inference_images_per_second"])
    # The ceiling beside it: a float32 sgemm on the same cores (tens of GFLOP/s on any CPU that runs the suite).
    assert result["sgemm_flops_per_second"] > 1e9
    assert result["training_share_of_sgemm"] == pytest.approx(
        result["training_flops_per_second"] / result["sgemm_flops_per_second"]
    )
    assert "of it" in printed and "sgemm peak" in printed
    # Where the step's time goes (a traced profile after the timing) and the convolutions' own rate.
    kernels = result["kernels"]
    assert kernels["profiled_steps"] == 3 and sum(kernels["group_shares"].values()) == pytest.approx(1.0)
    assert 0 < kernels["convolution_gradient_share"] == kernels["group_shares"]["convolution gradients"] < 1
    assert kernels["convolution_share"] == pytest.approx(
        kernels["group_shares"]["convolution gradients"] + kernels["group_shares"]["convolution forward"]
    )
    assert kernels["step_seconds"] == pytest.approx(8 / result["train_images_per_second"])
    assert kernels["convolution_flops_per_second"] == pytest.approx(
        result["training_flops_per_image"] * 8 / (kernels["step_seconds"] * kernels["convolution_share"])
    )
    assert result["convolution_share_of_sgemm"] == pytest.approx(
        kernels["convolution_flops_per_second"] / result["sgemm_flops_per_second"]
    )
    assert "convolution gradients" in printed and "of the step" in printed
    unprofiled, _ = run_cli(
        ["throughput", "--model", "resnet", "--set", "depth=8", *TINY, "--profile-steps", "0"], tmp_path, capsys
    )
    assert unprofiled["kernels"] is None and unprofiled["convolution_share_of_sgemm"] is None
    assert result["memory"]["peak_rss_mib"] > 100  # TensorFlow alone is more than that
    assert result["memory"]["device_peak_mib"] is None  # CPU only
    assert "GFLOP/s" in printed and "MiB RSS" in printed


def test_throughput_unknown_model_is_a_one_line_error(capsys):
    assert bench.main(["throughput", "--model", "resnet", "--set", "depth=9"]) == 2
    assert "depth" in one_error_line(capsys)


def test_variants_compare_keras_and_fused_batch_norm(tmp_path, capsys):
    argv = [
        "variants",
        "--model",
        "preact_resnet",
        "--set",
        "depth=8",
        "--variant",
        "keras_bn",
        "--variant",
        "fused_bn",
        "--variant",
        "fused_bn_float32",
        "--variant",
        "no_bn",
        *TINY,
    ]
    result, printed = run_cli(argv, tmp_path, capsys)
    assert [r["variant"] for r in result["rows"]] == ["keras_bn", "fused_bn", "fused_bn_float32", "no_bn"]
    cast_first = bench.variant_model(reszoo.build("preact_resnet", depth=8), "fused_bn_float32")
    bns = [layer for layer in cast_first.layers if isinstance(layer, FusedBatchNormalization)]
    assert bns and not any(layer.half_inputs_in_kernel for layer in bns)
    assert result["rows"][0]["speedup"] == 1.0
    for row in result["rows"][1:]:
        assert row["speedup"] == pytest.approx(row["images_per_second"] / result["rows"][0]["images_per_second"])
    assert "fused_bn" in printed


def test_strided_slice_variant_slices_in_every_option_a_shortcut_and_trains_the_same():
    from reszoo.layers import ZeroPadShortcut

    model = reszoo.build("preact_resnet", depth=8)
    sliced = bench.variant_model(model, "strided_slice_shortcut")
    shortcuts = [layer for layer in sliced.layers if isinstance(layer, ZeroPadShortcut)]
    assert len(shortcuts) == 2 and not any(layer.subsample_by_pooling for layer in shortcuts)
    assert all(layer.subsample_by_pooling for layer in model.layers if isinstance(layer, ZeroPadShortcut))
    images = np.random.default_rng(0).uniform(0, 255, (4, 32, 32, 3)).astype("float32")
    labels = np.arange(4) % 10
    grads = []
    for net in (model, sliced):
        with tf.GradientTape() as tape:
            loss = keras.losses.sparse_categorical_crossentropy(labels, net(images, training=True))
        grads.append(tape.gradient(loss, net.trainable_weights))
    for pooled, slicing in zip(*grads, strict=True):
        np.testing.assert_array_equal(np.asarray(pooled), np.asarray(slicing))


def test_no_bn_diagnostic_removes_exactly_the_batch_norms():
    model = reszoo.build("fast_resnet", depth=8)
    stripped = bench.without_batch_norm(model)
    bns = [layer.name for layer in model.layers if isinstance(layer, keras.layers.BatchNormalization)]
    assert bns and not any(isinstance(layer, keras.layers.BatchNormalization) for layer in stripped.layers)
    assert [layer.name for layer in stripped.layers] == [layer.name for layer in model.layers]
    assert reszoo.trainable_params(stripped) == reszoo.trainable_params(model) - sum(
        2 * model.get_layer(n).gamma.shape[0] for n in bns
    )


def test_environment_settings_parse():
    assert bench.parse_environment("TF_ENABLE_ONEDNN_OPTS=1, TF_NUM_INTRAOP_THREADS=2") == {
        "TF_ENABLE_ONEDNN_OPTS": "1",
        "TF_NUM_INTRAOP_THREADS": "2",
    }
    assert bench.parse_environment("-") == {}
    with pytest.raises(Exception, match="KEY=VALUE"):
        bench.parse_environment("TF_ENABLE_ONEDNN_OPTS")


@pytest.mark.slow
def test_envs_runs_one_process_per_setting(tmp_path, capsys):
    argv = [
        "envs",
        "--model",
        "resnet",
        "--set",
        "depth=8",
        "--env",
        "-",
        "--env",
        "TF_NUM_INTEROP_THREADS=1",
        "--repeats",
        "1",
        *TINY,
    ]
    result, printed = run_cli(argv, tmp_path, capsys)
    assert [r["environment"] for r in result["rows"]] == [{}, {"TF_NUM_INTEROP_THREADS": "1"}]
    assert all(len(r["train_runs"]) == 1 and r["train_images_per_second"] > 0 for r in result["rows"])
    assert result["rows"][0]["speedup"] == 1.0 and "TF_NUM_INTEROP_THREADS=1" in printed


def test_pipeline_is_compared_with_training(tmp_path, capsys):
    argv = ["pipeline", "--dataset", "synthetic:64", "--batches", "4", "--warmup-batches", "1", *TINY]
    result, printed = run_cli(argv, tmp_path, capsys)
    assert result["dataset"] == "synthetic:64" and result["train_model"] == "fast_resnet20"
    assert result["pipeline_images_per_second"] > 0 and result["train_images_per_second"] > 0
    assert result["pipeline_to_train_ratio"] == pytest.approx(
        result["pipeline_images_per_second"] / result["train_images_per_second"]
    )
    assert "pipeline / training" in printed


# bench params -------------------------------------------------------------------------------


def test_params_rows_match_the_presets(tmp_path, capsys, monkeypatch):
    everything = reszoo.presets()
    chosen = {name: everything[name] for name in ("resnet20", "resnet1202", "fast_resnet20", "fast_resnet668")}
    assert chosen["resnet1202"].slow and chosen["fast_resnet668"].slow
    monkeypatch.setattr(reszoo, "presets", lambda: dict(chosen))  # builds two small presets, not the whole zoo
    result, printed = run_cli(["params", "--skip-slow"], tmp_path, capsys)
    assert [r["preset"] for r in result["rows"]] == ["resnet20", "fast_resnet20"]
    resnet20, fast20 = result["rows"]
    assert resnet20["family"] == "resnet" and resnet20["ours"] == resnet20["exact"] == 269_722
    assert resnet20["published_m"] == 0.27 and resnet20["match"] is True
    assert fast20["ours"] == 269_146 and fast20["match"] is None  # the seed prints no parameter count
    assert "| resnet | resnet20 | 269,722 | 0.27 | 269,722 | ✓ |" in bench.render(result, markdown=True)
    assert "269,722" in printed
    only_fast, _ = run_cli(["params", "--skip-slow", "--family", "fast_resnet"], tmp_path, capsys)
    assert [r["preset"] for r in only_fast["rows"]] == ["fast_resnet20"]


def test_params_match_rule():
    assert bench.params_match(1_727_962, 1.7, None) is True  # rounds to the printed 1.7M
    assert bench.params_match(1_772_706, 1.7, None) is False  # 1.8M
    assert bench.params_match(13_645_530, 13.3, None) is False
    assert bench.params_match(4_020_358, 5.3, 4_020_358) is True  # the exact count decides
    assert bench.params_match(269_722, None, None) is None


def test_params_unknown_family_is_refused(capsys):
    assert bench.main(["params", "--family", "resnets"]) == 2
    assert "resnets" in one_error_line(capsys)


# The JAX path -----------------------------------------------------------------------------------


@pytest.mark.slow
def test_units_and_throughput_run_on_jax_without_tensorflow(tmp_path):
    pytest.importorskip("jax")
    script = (
        "import sys, json\n"
        "from reszoo import bench\n"
        f"bench.run(['units', '--depths', '8', {', '.join(map(repr, TINY))}])\n"
        f"r = bench.run(['throughput', '--model', 'fast_resnet', '--set', 'depth=8', {', '.join(map(repr, TINY))}])\n"
        "assert r['machine']['backend'] == 'jax', r['machine']\n"
        "loaded = sorted(m for m in sys.modules if m == 'tensorflow' or m.startswith('tensorflow.'))\n"
        "print(json.dumps({'tensorflow_modules': loaded, 'macs': r['forward_macs_per_image']}))\n"
    )
    env = dict(os.environ, KERAS_BACKEND="jax", JAX_PLATFORMS="cpu")
    completed = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True)
    assert completed.returncode == 0, completed.stderr[-3000:]
    report = json.loads(completed.stdout.strip().splitlines()[-1])
    assert report["tensorflow_modules"] == []
    assert report["macs"] == bench.count_forward_macs(reszoo.build("fast_resnet", depth=8)).macs


def test_bench_imports_tensorflow_only_inside_the_tensorflow_commands():
    """What keeps the JAX path free of TensorFlow, checked without JAX installed.

    No bench module imports TensorFlow (or ``reszoo.data``/``reszoo.train``, which do) at import time;
    only ``pipeline``, ``variants`` and ``profile`` import it, inside the functions that run them.
    ``reszoo.training.choices`` (the command line's plain data; its package imports nothing at first) is allowed.
    """
    forbidden = ("tensorflow", "reszoo.data", "reszoo.train", "reszoo.training")
    allowed = ("reszoo.training.choices.",)
    package = os.path.join(ROOT, "reszoo", "bench")
    for filename in sorted(os.listdir(package)):
        if not filename.endswith(".py"):
            continue
        with open(os.path.join(package, filename)) as f:
            tree = ast.parse(f.read())
        top_level = [n for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom))]
        names = [a.name for n in top_level if isinstance(n, ast.Import) for a in n.names]
        names += [f"{n.module}.{a.name}" for n in top_level if isinstance(n, ast.ImportFrom) for a in n.names]
        assert not [m for m in names if m.startswith(forbidden) and not m.startswith(allowed)], (filename, names)
    script = "import sys, reszoo.bench; print(sorted(m for m in sys.modules if m.startswith(('reszoo.data', 'reszoo.train', 'tensorflow_datasets')) and m not in ('reszoo.training', 'reszoo.training.choices')))"
    completed = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True)
    assert completed.returncode == 0, completed.stderr[-3000:]
    assert completed.stdout.strip().splitlines()[-1] == "[]"


# FusedBatchNormalization -------------------------------------------------------------------------


def _bn_pair(shape, seed=0):
    """A Keras BN and a fused BN with the same random weights and moving statistics."""
    reference = keras.layers.BatchNormalization(momentum=0.9, epsilon=1e-5)
    fused = FusedBatchNormalization(momentum=0.9, epsilon=1e-5)
    reference.build(shape)
    fused.build(shape)
    rng = np.random.default_rng(seed)
    for a, b in zip(reference.weights, fused.weights, strict=True):
        value = rng.uniform(0.5, 1.5, size=a.shape).astype("float32")
        a.assign(value)
        b.assign(value)
    return reference, fused


def test_fused_bn_matches_keras_bn_in_training():
    x = tf.constant(np.random.default_rng(1).normal(3.0, 2.0, size=(8, 6, 6, 5)).astype("float32"))
    reference, fused = _bn_pair(x.shape)
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(x)
        outputs = [layer(x, training=True) for layer in (reference, fused)]
        losses = [tf.reduce_sum(tf.sin(y) * y) for y in outputs]
    np.testing.assert_allclose(outputs[1], outputs[0], atol=1e-5)
    assert fused._fused_applies(x, True, None)
    # Moving statistics: Keras' rule (0.9 old + 0.1 biased batch statistic), not the kernel's unbiased variance.
    np.testing.assert_allclose(fused.moving_mean, reference.moving_mean, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(fused.moving_variance, reference.moving_variance, rtol=1e-5, atol=1e-6)
    gradients = [
        tape.gradient(loss, [x, *layer.trainable_weights])
        for loss, layer in zip(losses, (reference, fused), strict=True)
    ]
    for ours, theirs in zip(gradients[1], gradients[0], strict=True):
        np.testing.assert_allclose(ours, theirs, rtol=1e-4, atol=1e-4)


def test_fused_bn_runs_the_kernel_on_bfloat16_activations_without_a_float32_copy():
    x = tf.constant(np.random.default_rng(1).normal(3.0, 2.0, size=(8, 6, 6, 5)).astype("float32"))
    x16 = tf.cast(x, "bfloat16")
    policy = keras.DTypePolicy("mixed_bfloat16")

    class CastFirst(FusedBatchNormalization):
        half_inputs_in_kernel = False

    layers = [cls(momentum=0.9, epsilon=1e-5, dtype=policy) for cls in (keras.layers.BatchNormalization, CastFirst)]
    layers.append(FusedBatchNormalization(momentum=0.9, epsilon=1e-5, dtype=policy))
    for layer in layers:
        layer.build(x.shape)
    results = []
    for layer in layers:
        with tf.GradientTape() as tape:
            tape.watch(x16)
            y = layer(x16, training=True)
            loss = tf.reduce_sum(tf.cast(y, "float32") * tf.range(5, dtype="float32"))
        results.append((y, tape.gradient(loss, [x16, *layer.trainable_weights])))
        assert y.dtype == tf.bfloat16
    keras_bn, cast_first, in_kernel = results
    np.testing.assert_array_equal(tf.cast(in_kernel[0], "float32"), tf.cast(cast_first[0], "float32"))
    np.testing.assert_allclose(tf.cast(in_kernel[0], "float32"), tf.cast(keras_bn[0], "float32"), atol=0.04)
    for ours, theirs in zip(in_kernel[1], keras_bn[1], strict=True):
        np.testing.assert_allclose(tf.cast(ours, "float32"), tf.cast(theirs, "float32"), rtol=0.02, atol=0.05)
    np.testing.assert_allclose(layers[2].moving_variance, layers[0].moving_variance, rtol=1e-2)
    # The bfloat16 activations reach the kernel as they are: no Cast of them to float32 in the traced call.
    graph = tf.function(lambda t: layers[2](t, training=True)).get_concrete_function(x16).graph
    casts = [op for op in graph.get_operations() if op.type == "Cast" and op.inputs[0].dtype == tf.bfloat16]
    assert casts == []
    (kernel,) = [op for op in graph.get_operations() if op.type.startswith("FusedBatchNorm")]
    assert kernel.inputs[0].dtype == tf.bfloat16 and kernel.inputs[1].dtype == tf.float32


def test_fused_bn_inference_is_the_parent_code():
    x = np.random.default_rng(2).normal(size=(4, 3, 3, 5)).astype("float32")
    reference, fused = _bn_pair(x.shape)
    assert not fused._fused_applies(x, False, None)
    np.testing.assert_array_equal(fused(x, training=False), reference(x, training=False))
    np.testing.assert_array_equal(fused.moving_mean, reference.moving_mean)  # no update at inference


def test_fused_bn_has_the_same_weights_layout_and_config():
    reference, fused = _bn_pair((2, 4, 4, 3))
    assert [w.name for w in fused.weights] == [w.name for w in reference.weights]
    assert [w.name for w in fused.weights] == ["gamma", "beta", "moving_mean", "moving_variance"]
    assert [w.trainable for w in fused.weights] == [w.trainable for w in reference.weights]
    config = fused.get_config()
    assert config == reference.get_config() | {"name": config["name"]}
    restored = keras.layers.deserialize(keras.layers.serialize(fused))
    assert type(restored) is FusedBatchNormalization and restored.get_config() == config


def test_builders_use_fused_batch_norm_which_trains_like_keras_batch_norm(tmp_path):
    model = reszoo.build("preact_resnet", depth=8)
    fused_bns = sum(type(layer) is FusedBatchNormalization for layer in model.layers)
    assert fused_bns == 3 * 2 + 1  # two per unit and the head's
    unfused = bench.with_keras_batch_norm(model)
    assert sum(type(layer) is keras.layers.BatchNormalization for layer in unfused.layers) == fused_bns
    assert not any(type(layer) is FusedBatchNormalization for layer in unfused.layers)
    assert len(unfused.losses) == len(model.losses) > 0  # weight decay regularizers kept
    x, y = bench.synthetic_batches(8, count=1)[0]
    before = {w.path: w.numpy() for w in model.weights}
    for m in (model, unfused):
        bench.compile_for_training(m, jit_compile=False)
    losses = [m.train_on_batch(x, y)[0] for m in (model, unfused)]
    assert losses[0] == pytest.approx(losses[1], rel=1e-5)
    # The moving statistics come from the forward pass: Keras' rule, the biased batch variance.
    for ours, theirs in zip(model.weights, unfused.weights, strict=True):
        if "moving" in ours.path:
            update = np.linalg.norm(theirs.numpy() - before[ours.path])
            assert np.linalg.norm(ours.numpy() - theirs.numpy()) <= 1e-5 * update + 1e-7, ours.path
    path = tmp_path / "fused.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    assert sum(type(layer) is FusedBatchNormalization for layer in loaded.layers) == fused_bns
    np.testing.assert_allclose(loaded.predict_on_batch(x), model.predict_on_batch(x), atol=1e-6)


def test_fused_bn_false_builds_keras_batch_norm():
    model = reszoo.build("preact_resnet", depth=8, fused_bn=False)
    bns = [layer for layer in model.layers if isinstance(layer, keras.layers.BatchNormalization)]
    assert len(bns) == 7 and all(type(layer) is keras.layers.BatchNormalization for layer in bns)
    fused = reszoo.build("preact_resnet", depth=8)
    assert sum(type(layer) is FusedBatchNormalization for layer in fused.layers) == 7
    assert [w.path for w in fused.weights] == [w.path for w in model.weights]


@pytest.mark.parametrize("setting", ["0", "off"])
def test_reszoo_fused_bn_0_overrides_the_default(monkeypatch, setting):
    monkeypatch.setenv("RESZOO_FUSED_BN", setting)
    model = reszoo.build("preact_resnet", depth=8)
    bns = [layer for layer in model.layers if isinstance(layer, keras.layers.BatchNormalization)]
    assert len(bns) == 7 and all(type(layer) is keras.layers.BatchNormalization for layer in bns)
    monkeypatch.delenv("RESZOO_FUSED_BN")
    fused = reszoo.build("preact_resnet", depth=8)
    assert sum(type(layer) is FusedBatchNormalization for layer in fused.layers) == 7
    assert [w.path for w in fused.weights] == [w.path for w in model.weights]
    assert reszoo.trainable_params(fused) == reszoo.trainable_params(model)


def test_fused_batch_norm_network_gradients_are_as_exact_as_keras_batch_norm():
    """Against a float64 network, both float32 gradients are round-off, except across a ReLU sign flip.

    An activation within round-off of zero can land on either side of it in float32, and ReLU's
    derivative jumps there: such a flip moves the gradient by ~1e-3 for Keras' BN as for the fused one
    (benchmarks/fused_bn_exactness.py; seed 1 flips Keras' BN network here, seed 0 the fused one).
    """
    exactness = _load_benchmark_module("fused_bn_exactness")
    rows = [exactness.check_seed(seed, depth=8, batch_size=8) for seed in range(4)]
    for row in rows:
        for network in ("keras_bn", "fused_bn"):
            result = row[network]
            if result["sign_flips"] == 0:
                assert result["error"] < 1e-5, (row["seed"], network, result)
            else:
                assert result["largest_flipped"] < 1e-5, (row["seed"], network, result)  # round-off sized
    assert sum(row["fused_bn"]["sign_flips"] == 0 for row in rows) >= 2  # not vacuous


# The PyTorch peer ----------------------------------------------------------------------------------


def _load_benchmark_module(name):
    spec = importlib.util.spec_from_file_location(name, os.path.join(ROOT, "benchmarks", f"{name}.py"))
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up while the class is built
    sys.path.insert(0, os.path.join(ROOT, "benchmarks"))
    try:
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(os.path.join(ROOT, "benchmarks"))
    return module


@pytest.fixture(scope="module")
def peer():
    pytest.importorskip("torch")
    return _load_benchmark_module("peer_pytorch")


@pytest.mark.parametrize(
    "kind, family, extra",
    [
        ("preact", "preact_resnet", {}),
        ("fast1", "fast_resnet", {"unit_type": 1}),
        ("fast2", "fast_resnet", {"unit_type": 2}),
    ],
)
@pytest.mark.parametrize("depth", [8, 20])
def test_peer_networks_have_reszoos_parameter_counts(peer, kind, family, extra, depth):
    ours = reszoo.trainable_params(reszoo.build(family, depth=depth, **extra))
    assert peer.trainable_params(peer.CifarResNet(depth, kind)) == ours


def test_peer_augmentation_crops_a_window_of_the_padded_image_and_flips(peer):
    import torch

    images = torch.arange(2 * 3 * 8 * 8, dtype=torch.float32).view(2, 3, 8, 8)
    out = peer.augment(images, torch.Generator().manual_seed(0), pad=2)
    assert out.shape == images.shape
    padded = torch.nn.functional.pad(images, (2, 2, 2, 2))
    for i in range(2):
        windows = [padded[i, :, r : r + 8, c : c + 8] for r in range(5) for c in range(5)]
        assert any(torch.equal(out[i], w) or torch.equal(out[i], w.flip(2)) for w in windows)


def test_peer_trains_and_reports_epoch_times(peer):
    result = peer.train("fast1", 8, images=12, epochs=2, batch_size=4)
    assert result["params"] == 75_162 and result["images_per_epoch"] == 12
    assert len(result["epoch_seconds"]) == 2 and min(result["epoch_seconds"]) > 0
    with pytest.raises(ValueError, match="depth must be 6n\\+2"):
        peer.CifarResNet(9, "preact")


def test_peer_trains_under_bfloat16_autocast_with_float32_weights(peer):
    result = peer.train("preact", 8, images=8, epochs=2, batch_size=4, bf16=True)
    assert result["precision"] == "bfloat16 autocast" and len(result["epoch_seconds"]) == 2
    assert peer.train("preact", 8, images=4, epochs=1, batch_size=4)["precision"] == "float32"


def test_peer_refuses_bf16_for_inference(peer, capsys):
    with pytest.raises(SystemExit) as exit_info:
        peer.main(["--inference", "1", "--bf16"])
    assert exit_info.value.code == 2
    assert (
        capsys.readouterr()
        .err.strip()
        .splitlines()[-1]
        .endswith("error: --bf16 is for training; --inference times float32 eval mode")
    )


def test_peer_serves_uint8_images_like_a_reszoo_export(peer):
    import torch

    served = peer.Served(peer.CifarResNet(8, "preact")).eval()
    images = torch.randint(0, 256, (3, 3, 32, 32), dtype=torch.uint8)
    with torch.inference_mode():
        probabilities = served(images)
        logits = served.network((images.float() - served.mean) / served.std)
    assert probabilities.shape == (3, 10)
    torch.testing.assert_close(probabilities, torch.softmax(logits, 1))
    torch.testing.assert_close(served.mean.flatten(), torch.tensor(peer.MEAN))
    result = peer.infer("preact", 8, batch_sizes=(1, 4), images=8, rounds=1, channels_last=True)
    assert set(result["images_per_second"]) == {"1", "4"} and min(result["images_per_second"].values()) > 0
    assert result["params"] == peer.trainable_params(peer.CifarResNet(8, "preact")) and result["channels_last"]


def test_run_peer_precisions_and_inference_batch_sizes_are_checked(peer):
    run_peer = _load_benchmark_module("run_peer")
    assert run_peer.parse_precisions("float32,bfloat16") == ["float32", "bfloat16"]
    assert run_peer.PRECISIONS["bfloat16"] == (("--precision", "mixed_bfloat16"), ("--bf16",))
    with pytest.raises(ValueError, match="--precisions must be among float32, bfloat16. Received: 'fp16'"):
        run_peer.parse_precisions("fp16")
    assert run_peer.parse_batch_sizes("1,256") == (1, 256) and run_peer.parse_batch_sizes("none") == ()
    with pytest.raises(ValueError, match="positive integers or none. Received: '0,4'"):
        run_peer.parse_batch_sizes("0,4")


def test_peer_splits_its_step_into_convolutions_batch_norm_and_the_rest(peer):
    self_seconds = {
        "aten::mkldnn_convolution": 0.3,
        "aten::convolution_backward": 0.5,
        "aten::native_batch_norm": 0.1,
        "aten::native_batch_norm_backward": 0.05,
        "aten::add_": 0.02,
    }
    split = peer.split_step(self_seconds, wall_seconds=1.2, steps=2)
    assert split["wall_ms_per_step"] == pytest.approx(600.0)
    assert split["ms_per_step"] == pytest.approx(
        {"convolution forward": 150.0, "convolution gradients": 250.0, "batch norm": 75.0, "other": 125.0}
    )
    assert sum(split["share"].values()) == pytest.approx(1.0) and split["share"]["other"] == pytest.approx(0.25 / 1.2)
    profiled = peer.train("preact", 8, images=8, epochs=1, batch_size=4, profile_steps=2)["step_split"]
    assert profiled["steps"] == 2 and sum(profiled["share"].values()) == pytest.approx(1.0)
    assert min(profiled["ms_per_step"][group] for group in ("convolution forward", "convolution gradients")) > 0
    assert profiled["ms_per_step"]["batch norm"] > 0
    assert "step_split" not in peer.train("preact", 8, images=4, epochs=1, batch_size=4)


def test_peer_refuses_profile_with_inference(peer, capsys):
    with pytest.raises(SystemExit) as exit_info:
        peer.main(["--inference", "1", "--profile", "3"])
    assert exit_info.value.code == 2
    assert (
        capsys.readouterr()
        .err.strip()
        .splitlines()[-1]
        .endswith("error: --profile splits a training step; it cannot be combined with --inference")
    )


def test_run_peer_runs_the_pytorch_side_with_the_torch_python_it_is_given(peer, monkeypatch, tmp_path):
    import torch

    run_peer = _load_benchmark_module("run_peer")
    assert run_peer.torch_version(sys.executable) == torch.__version__
    no_torch = tmp_path / "python-without-torch"
    no_torch.write_text("#!/bin/sh\necho 'No module named torch' >&2\nexit 1\n")
    no_torch.chmod(0o755)
    with pytest.raises(ValueError, match="cannot import torch: pip install torch==2.13.0 there"):
        run_peer.torch_version(str(no_torch))
    with pytest.raises(ValueError, match="must be a Python interpreter. Received: '/no/such/python'"):
        run_peer.torch_version("/no/such/python")
    hanging = tmp_path / "python-that-hangs"
    hanging.write_text("#!/bin/sh\nexec sleep 30\n")
    hanging.chmod(0o755)
    with pytest.raises(ValueError, match="python-that-hangs' did not import torch within 0.5 s"):
        run_peer.torch_version(str(hanging), timeout_seconds=0.5)
    assert run_peer.torch_versions([sys.executable]) == {torch.__version__: sys.executable}
    with pytest.raises(ValueError, match=f"lists '{sys.executable}' and '{sys.executable}', both with torch"):
        run_peer.torch_versions([sys.executable, sys.executable])
    pythons = []

    def fake_pytorch(kind, depth, *, config, python, **kwargs):
        pythons.append((config, python))
        rate = {"/new/python": 10.0, "/old/python": 20.0}[python] * (2 if config == "compile" else 1)
        return {"images_per_second": rate, "best_images_per_second": rate + 1}

    monkeypatch.setattr(
        run_peer, "run_reszoo", lambda *a, **k: {"images_per_second": 5.0, "best_images_per_second": 6.0}
    )
    monkeypatch.setattr(run_peer, "run_pytorch", fake_pytorch)
    common = dict(
        images=8, epochs=2, batch_size=4, repeats=1, workdir=str(tmp_path), torch_configs=("eager", "compile")
    )
    one = run_peer.compare("preact", 8, **common, torch_pythons={"2.14.1": "/new/python"})
    assert pythons == [("eager", "/new/python"), ("compile", "/new/python")]
    assert one["fastest_pytorch"] == "compile" and one["reszoo_to_pytorch"] == pytest.approx(0.25)
    pythons.clear()
    both = run_peer.compare("preact", 8, **common, torch_pythons={"2.14.1": "/new/python", "2.13.0": "/old/python"})
    assert sorted(both["median_images_per_second"]) == [
        "pytorch_compile@2.13.0", "pytorch_compile@2.14.1", "pytorch_eager@2.13.0", "pytorch_eager@2.14.1", "reszoo"
    ]  # fmt: skip
    assert len(pythons) == 4 and both["fastest_pytorch"] == "compile@2.13.0"
    assert both["reszoo_to_pytorch"] == pytest.approx(5.0 / 40.0) and both["pytorch_best_images_per_second"] == 41.0
    assert "PyTorch compile@2.13.0 img/s" in run_peer.render([both], markdown=True)


def test_run_peer_refuses_a_torch_python_that_cannot_run(peer, capsys):
    run_peer = _load_benchmark_module("run_peer")
    with pytest.raises(SystemExit) as exit_info:
        run_peer.main(["--kinds", "preact", "--inference-batch-sizes", "none", "--torch-python", "/no/such/python"])
    assert exit_info.value.code == 2
    error = capsys.readouterr().err.strip().splitlines()[-1]
    assert "error: --torch-python must be a Python interpreter. Received: '/no/such/python'" in error


def test_run_peer_inference_alternates_and_compares_with_the_fastest_pytorch(peer, monkeypatch, tmp_path):
    run_peer = _load_benchmark_module("run_peer")
    calls = []

    def fake_reszoo(kind, depth, **kwargs):
        calls.append("reszoo")
        return {"SavedModel": {"1": 100.0, "8": 800.0}, "ONNX": {"1": 300.0, "8": 900.0}, "LiteRT": {"1": 50, "8": 5}}

    def fake_pytorch(kind, depth, *, config, **kwargs):
        calls.append(config)
        return {"1": 200.0, "8": 400.0} if config == "eager" else {"1": 150.0, "8": 1600.0}

    monkeypatch.setattr(run_peer, "run_reszoo_inference", fake_reszoo)
    monkeypatch.setattr(run_peer, "run_pytorch_inference", fake_pytorch)
    rows = run_peer.compare_inference(
        "preact", 8, batch_sizes=(1, 8), images=8, rounds=1, repeats=2, workdir=str(tmp_path),
        torch_configs=("eager", "compile"),
    )  # fmt: skip
    assert calls == ["reszoo", "eager", "compile", "compile", "eager", "reszoo"]
    one, eight = rows
    assert (one["batch_size"], one["fastest_pytorch"], one["fastest_reszoo_format"]) == (1, "eager", "ONNX")
    assert one["savedmodel_to_pytorch"] == pytest.approx(0.5) and one["best_format_to_pytorch"] == pytest.approx(1.5)
    assert (eight["fastest_pytorch"], eight["savedmodel_to_pytorch"]) == ("compile", pytest.approx(0.5))
    table = run_peer.render_inference(rows, markdown=True)
    assert "| SavedModel img/s |" in table and "0.50 (eager)" in table and "1.50 (ONNX)" in table


def test_run_peer_names_what_to_install_and_installs_nothing(peer, monkeypatch, capsys):
    run_peer = _load_benchmark_module("run_peer")
    absent = {"torch", "ai_edge_litert"}

    def find_spec(name):
        return None if name in absent else object()

    assert run_peer.missing_requirements(inference=False, find_spec=find_spec) == ["torch==2.13.0"]
    assert run_peer.missing_requirements(inference=True, find_spec=find_spec) == [
        "torch==2.13.0",
        "ai-edge-litert==2.3.0",
    ]
    monkeypatch.setattr(
        run_peer, "missing_requirements", functools.partial(run_peer.missing_requirements, find_spec=find_spec)
    )
    with pytest.raises(SystemExit) as exit_info:
        run_peer.main(["--kinds", "preact"])
    assert exit_info.value.code == 2
    error = capsys.readouterr().err.strip().splitlines()[-1]
    assert error.endswith(
        "error: needs torch==2.13.0, ai-edge-litert==2.3.0 (not installed; this benchmark installs nothing): "
        "pip install torch==2.13.0 ai-edge-litert==2.3.0"
    )


def test_run_peer_drops_the_warmup_epoch(peer):
    run_peer = _load_benchmark_module("run_peer")
    assert run_peer.steady_images_per_second(100, [50.0, 1.0, 3.0]) == pytest.approx(50.0)
    assert run_peer.best_images_per_second(100, [0.5, 1.0, 3.0]) == pytest.approx(100.0)
    with pytest.raises(ValueError, match="at least 2 epochs"):
        run_peer.steady_images_per_second(100, [1.0])
    assert run_peer.check_same_networks("fast2", 8) == 75_066


def test_run_peer_takes_the_pytorch_configurations_a_user_would_pick(peer):
    run_peer = _load_benchmark_module("run_peer")
    assert run_peer.parse_torch_configs("eager,compile_channels_last") == ["eager", "compile_channels_last"]
    with pytest.raises(ValueError, match="must be among eager, channels_last, compile, compile_channels_last"):
        run_peer.parse_torch_configs("eager,jit")


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore:.*torch.jit.script_method. is deprecated:DeprecationWarning")  # torch 2.13's own
def test_peer_trains_through_torch_compile(peer):
    result = peer.train("preact", 8, images=16, epochs=2, batch_size=8, compile=True, channels_last=True)
    assert result["compile"] is True and result["channels_last"] is True
    assert result["params"] == peer.trainable_params(peer.CifarResNet(8, "preact"))
    assert len(result["epoch_seconds"]) == 2


@pytest.mark.slow
def test_run_peer_end_to_end(peer, tmp_path):
    out = tmp_path / "peer.json"
    command = [
        sys.executable,
        os.path.join(ROOT, "benchmarks", "run_peer.py"),
        "--kinds",
        "fast1",
        "--depths",
        "8",
        "--images",
        "32",
        "--batch-size",
        "16",
        "--epochs",
        "2",
        "--repeats",
        "1",
        "--torch-configs",
        "eager,channels_last",
        "--precisions",
        "float32,bfloat16",
        "--inference-batch-sizes",
        "1,4",
        "--inference-images",
        "8",
        "--out",
        str(out),
    ]
    completed = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    assert completed.returncode == 0, completed.stderr[-3000:]
    result = json.loads(out.read_text())
    row, bf16_row = result["rows"]
    assert (row["precision"], bf16_row["precision"]) == ("float32", "bfloat16")
    assert bf16_row["runs"]["reszoo"][0]["precision"] == "mixed_bfloat16"
    assert bf16_row["runs"]["pytorch_eager"][0]["precision"] == "bfloat16 autocast"
    assert [
        (r["batch_size"], r["fastest_reszoo_format"] in ("SavedModel", "ONNX", "LiteRT"))
        for r in result["inference_rows"]
    ] == [(1, True), (4, True)]
    assert set(result["inference_rows"][0]["median_images_per_second"]) == {
        "reszoo_SavedModel", "reszoo_ONNX", "reszoo_LiteRT", "pytorch_eager", "pytorch_channels_last"
    }  # fmt: skip
    assert "inference (eval mode" in completed.stdout
    assert row["params"] == 75_162
    assert row["reszoo_to_pytorch"] == pytest.approx(row["reszoo_images_per_second"] / row["pytorch_images_per_second"])
    assert set(row["median_images_per_second"]) == {"reszoo", "pytorch_eager", "pytorch_channels_last"}
    fastest = row["median_images_per_second"][f"pytorch_{row['fastest_pytorch']}"]
    assert (
        fastest
        == row["pytorch_images_per_second"]
        == max(
            row["median_images_per_second"]["pytorch_eager"], row["median_images_per_second"]["pytorch_channels_last"]
        )
    )
    assert row["reszoo_best_images_per_second"] >= row["reszoo_images_per_second"]
    assert len(row["runs"]["reszoo"][0]["epoch_seconds"]) == 2


def test_profile_breaks_the_step_down_by_op_type(tmp_path, capsys):
    argv = [
        "profile",
        "--model",
        "fast_resnet",
        "--set",
        "depth=8",
        "--batch-size",
        "4",
        "--steps",
        "1",
        "--warmup-steps",
        "1",
    ]
    result, printed = run_cli(argv, tmp_path, capsys)
    ops = {r["op"]: r for r in result["rows"]}
    assert {"Conv2D", "Conv2DBackpropFilter"} <= {op.replace("_MklNative", "") for op in ops}
    assert sum(r["share"] for r in result["rows"]) == pytest.approx(1.0)
    assert result["kernel_ms_per_step"] == pytest.approx(sum(r["ms_per_step"] for r in result["rows"]))
    assert "Process" not in ops and "kernel time per step" in printed
    shares = result["group_shares"]
    assert sum(shares.values()) == pytest.approx(1.0)
    assert shares["convolution gradients"] == pytest.approx(
        sum(r["share"] for r in result["rows"] if "Conv2DBackprop" in r["op"])
    )
    assert f"convolution gradients {shares['convolution gradients']:.0%}" in printed


@pytest.mark.parametrize(
    ("op", "group"),
    [
        ("_MklNativeConv2DBackpropFilter", "convolution gradients"),
        ("Conv2DBackpropInput", "convolution gradients"),
        ("DepthwiseConv2dNativeBackpropFilter", "convolution gradients"),
        ("_MklNativeConv2D", "convolution forward"),
        ("_FusedConv2D", "convolution forward"),
        ("DepthwiseConv2dNative", "convolution forward"),
        ("_MklNativeFusedBatchNormGradV3", "batch norm"),
        ("MatMul", "matmul"),
        ("StridedSliceGrad", "other (elementwise, slices, pads, optimizer)"),
    ],
)
def test_profile_groups_every_op_type_by_what_its_time_is_spent_on(op, group):
    from reszoo.bench.profile import group_shares, op_group

    assert op_group(op) == group
    assert group_shares({op: 3, "AddV2": 1}) == pytest.approx(
        {group: 0.75, "other (elementwise, slices, pads, optimizer)": 0.25}
        if group != "other (elementwise, slices, pads, optimizer)"
        else {group: 1.0}
    )


def test_peer_quality_reuse_adds_seeds_and_retrains_none_it_has(tmp_path, monkeypatch, capsys):
    quality = _load_benchmark_module("peer_quality")
    trained = []

    def fake_reszoo(network, *, seed, **kwargs):
        trained.append(("reszoo", seed))
        return {"test_accuracy": 0.8 + seed / 100, "config": {"lr": 0.1}, "wall_seconds": 1.0, "warmup": None}

    def fake_peer(network, config, *, seed, **kwargs):
        trained.append(("pytorch", seed))
        return {"test_accuracy": 0.8, "wall_seconds": 1.0, "warmup_iterations": 0}

    monkeypatch.setattr(quality, "write_folder", lambda directory, train, test: {"train_images": train})
    monkeypatch.setattr(quality.run_peer, "check_same_networks", lambda kind, depth: 269146)
    monkeypatch.setattr(quality, "run_reszoo", fake_reszoo)
    monkeypatch.setattr(quality, "train_peer", fake_peer)
    first_json = str(tmp_path / "first.json")
    common = ["--epochs", "3", "--augment", "none", "--networks", "fast20", "--data-dir", str(tmp_path / "data")]
    quality.main([*common, "--seeds", "2", "--out", first_json])
    assert trained == [("reszoo", 0), ("pytorch", 0), ("reszoo", 1), ("pytorch", 1)]
    trained.clear()

    more = quality.main([*common, "--seeds", "3", "--reuse", first_json])
    assert trained == [("reszoo", 2), ("pytorch", 2)]
    cell = more["cells"][0]
    assert [r["seed"] for r in cell["reszoo"]] == [0, 1, 2] == [r["seed"] for r in cell["pytorch"]]
    assert cell["summary"]["reszoo"]["mean"] == pytest.approx(0.81)
    assert cell["summary"]["gap_points"] == pytest.approx(1.0)

    with pytest.raises(SystemExit) as refused:
        quality.main([*common, "--reuse", first_json, "--reuse-reszoo", first_json])
    assert refused.value.code == 2
    assert (
        "--reuse takes both sides' runs and --reuse-reszoo reszoo's only: give one of them" in capsys.readouterr().err
    )

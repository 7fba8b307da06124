"""notebooks/: committed clean (no outputs) with a parameters cell, and every notebook runs end to end.

Each notebook is executed with nbclient in a kernel on this interpreter (``sys.executable``), in
``notebooks/`` as Jupyter would, in small mode (``RESZOO_NOTEBOOK_SMALL=1``: tiny models, one epoch, a
one-step benchmark). Any cell error fails the test. The kernel's temporary folder must be empty afterwards
and ``notebooks/`` unchanged: small runs leave nothing behind.
"""

from __future__ import annotations

import json
import os
import re
import sys
from itertools import pairwise
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

import reszoo

NOTEBOOK_DIR = Path(__file__).resolve().parents[1] / "notebooks"
NOTEBOOKS = [
    "01_quickstart",
    "02_train_and_export",
    "03_fastresnet_vs_resnet",
    "04_inference",
    "05_backbone_and_deploy",
]
SMALL_ENV = "RESZOO_NOTEBOOK_SMALL"
CELL_TIMEOUT_S = 300
KERNEL_NAME = "reszoo-test-python"


def read_notebook(stem: str) -> nbformat.NotebookNode:
    return nbformat.read(NOTEBOOK_DIR / f"{stem}.ipynb", as_version=4)


def code_cells(nb: nbformat.NotebookNode) -> list[nbformat.NotebookNode]:
    return [cell for cell in nb.cells if cell.cell_type == "code"]


# --------------------------------------------------------------------------- committed state


def test_the_five_notebooks_are_there():
    assert sorted(p.name for p in NOTEBOOK_DIR.glob("*.ipynb")) == [f"{stem}.ipynb" for stem in NOTEBOOKS]


@pytest.mark.parametrize("stem", NOTEBOOKS)
def test_committed_notebook_has_no_outputs_and_a_parameters_cell_first(stem):
    nb = read_notebook(stem)
    nbformat.validate(nb)
    cells = code_cells(nb)
    assert [cell.outputs for cell in cells] == [[]] * len(cells)
    assert [cell.execution_count for cell in cells] == [None] * len(cells)
    tagged = [i for i, cell in enumerate(cells) if "parameters" in cell.metadata.get("tags", [])]
    assert tagged == [0], f"{stem}: the first code cell, and only it, must be tagged 'parameters'"
    assert f'os.environ.get("{SMALL_ENV}") == "1"' in cells[0].source
    assert nb.metadata.kernelspec.name == "python3"


# --------------------------------------------------------------------------- execution


def install_python_kernel(jupyter_path: Path) -> str:
    """A kernel spec, found through ``$JUPYTER_PATH``, whose kernel is this interpreter (``sys.executable``),
    whatever other kernel specs the machine has."""
    kernel_dir = jupyter_path / "kernels" / KERNEL_NAME
    kernel_dir.mkdir(parents=True)
    spec = {
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "reszoo test kernel",
        "language": "python",
    }
    (kernel_dir / "kernel.json").write_text(json.dumps(spec))
    return KERNEL_NAME


def listing(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


def execute_small(stem: str, tmp_path: Path, monkeypatch) -> nbformat.NotebookNode:
    """Run a notebook in small mode in ``notebooks/``; check the kernel and that nothing was left behind."""
    kernel_tmp = tmp_path / "kernel-tmp"
    kernel_tmp.mkdir()
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))  # where the kernel spec is found
    monkeypatch.setenv("JUPYTER_RUNTIME_DIR", str(tmp_path / "runtime"))  # the connection file
    kernel_env = {
        **os.environ,
        SMALL_ENV: "1",
        "TMPDIR": str(kernel_tmp),  # the notebooks' tempfile folders, and TensorFlow's autograph files
        "IPYTHONDIR": str(tmp_path / "ipython"),
        "TF_CPP_MIN_LOG_LEVEL": "3",
    }
    nb = read_notebook(stem)
    nb.cells.append(nbformat.v4.new_code_cell("import sys; print('kernel executable:', sys.executable)"))
    before = listing(NOTEBOOK_DIR)
    client = NotebookClient(
        nb,
        kernel_name=install_python_kernel(tmp_path / "jupyter"),
        timeout=CELL_TIMEOUT_S,
        resources={"metadata": {"path": str(NOTEBOOK_DIR)}},  # the working directory, as in Jupyter
    )
    client.execute(env=kernel_env)  # raises CellExecutionError on the first failing cell; shuts the kernel down
    assert text_outputs(nb.cells[-1]) == f"kernel executable: {sys.executable}\n"
    assert listing(NOTEBOOK_DIR) == before, "the notebook wrote files next to itself"
    # ai-edge-litert's runtime (libpywrap_litert_common.so) writes its session id to $TMPDIR/.ses on first use.
    assert [p for p in listing(kernel_tmp) if p != ".ses"] == [], "the notebook left temporary files behind"
    return nb


ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;]*m")


def text_outputs(cell: nbformat.NotebookNode) -> str:
    """A cell's stdout and the text of its displayed results (markdown, else plain text without colours)."""
    parts = []
    for output in cell.get("outputs", []):
        if output.output_type == "stream" and output.name == "stdout":
            parts.append(output.text)
        elif output.output_type in ("execute_result", "display_data"):
            text = output.data.get("text/markdown") or output.data.get("text/plain", "")
            parts.append(ANSI_ESCAPE.sub("", text) + "\n")
    return "".join(parts)


def all_text(nb: nbformat.NotebookNode) -> str:
    return "".join(text_outputs(cell) for cell in code_cells(nb))


def png_count(nb: nbformat.NotebookNode) -> int:
    return sum("image/png" in output.get("data", {}) for cell in code_cells(nb) for output in cell.outputs)


def test_quickstart_counts_pyramidnet_and_reads_its_widths_from_the_layers(tmp_path, monkeypatch):
    text = all_text(execute_small("01_quickstart", tmp_path, monkeypatch))
    exact = reszoo.presets()["pyramidnet110_a48"].exact
    assert f"pyramidnet110_a48: {exact:,} trainable parameters" in text
    assert f"Trainable params: {exact:,} " in text  # Keras' summary agrees
    widths = [int(w) for w in re.search(r"widths per unit: ([\d, ]+)", text)[1].split(", ")]
    assert len(widths) == 54 and widths[-1] == 16 + 48
    assert all(0 <= b - a <= 1 for a, b in pairwise(widths))  # additive: one channel at most per unit
    assert "preact_resnet110: widths per stage [16, 32, 64]" in text
    assert re.search(r"\| `resnet20` \| He et al\. 2015[^|]* \| 269,722 \| 0\.27 \| 269,722 \| ✓ \| 8\.75 / — \|", text)
    assert "| `fast_resnet20` | FastResNet seed" in text  # no published count: match "—"
    assert "1 of 2 presets equal their paper's count" in text


def test_train_and_export_reloads_the_export_with_the_same_test_error(tmp_path, monkeypatch):
    text = all_text(execute_small("02_train_and_export", tmp_path, monkeypatch))
    params = reszoo.trainable_params(reszoo.build("fast_resnet", depth=8, num_classes=4, input_shape=(16, 16, 3)))
    assert f"fast_resnet8: {params:,} trainable parameters, 1 epochs on folder:" in text
    assert "(40 train / 8 test images)" in text
    assert f"export: {tmp_path / 'kernel-tmp'}/reszoo-notebook-" in text  # small mode exports to a temp folder
    files = re.search(r"files: (.*)", text)[1].split(", ")
    assert {"saved_model.pb", "model.keras", "class_names.json", "history.csv", "summary.json"} <= set(files)
    assert "history.csv: 1 rows" in text
    reloaded, reported = re.search(r"reloaded export: ([\d.]+)% \(training reported ([\d.]+)%\)", text).groups()
    assert float(reloaded) == pytest.approx(float(reported), abs=0.01)
    assert "temporary files removed" in text


def test_fastresnet_vs_resnet_measures_each_kind_and_shows_the_gpu_results(tmp_path, monkeypatch):
    nb = execute_small("03_fastresnet_vs_resnet", tmp_path, monkeypatch)
    text = all_text(nb)
    for family, kind, network in (
        ("preact_resnet", {}, "preact_resnet8"),
        ("fast_resnet", {}, "fast_resnet8"),
        ("fast_resnet", {"unit_type": 2}, "fast_resnet8_type2"),
    ):
        params = reszoo.trainable_params(reszoo.build(family, depth=8, **kind))
        assert re.search(rf"^ +8 +{network} +{params:,} +\d+\.\d +\d+\.\d +\d\.\d{{3}} +— +— ", text, re.M), network
    assert re.search(r"depth 8: FastResNet type 1 / ResNet epoch time \d+\.\d{3} \(not in the paper\)", text)
    gpu_files = sorted((NOTEBOOK_DIR.parent / "benchmarks" / "gpu").glob("*.json"))
    for path in gpu_files:
        first = json.loads(path.read_text())["rows"][0]
        assert f"{path.name}: " in text and f"{first['images_per_second']:.1f}" in text
    if gpu_files:
        assert "depth 20: FastResNet type 1 / ResNet epoch time" in text and "(paper 0.734)" in text
    assert png_count(nb) == 1 + len(gpu_files)


def test_inference_gets_the_same_predictions_from_reszoo_load_and_tf_saved_model(tmp_path, monkeypatch):
    nb = execute_small("04_inference", tmp_path, monkeypatch)
    text = all_text(nb)
    header, *rows = re.search(r"(image +reszoo\.load.*?)\nmax", text, re.S)[1].splitlines()
    assert header.split() == ["image", "reszoo.load", "serve", "serve_uint8", "serving_default"]
    assert len(rows) == 8  # the test images: 4 shapes x 2
    for row in rows:
        name, *labels = row.split()
        assert name.endswith(".png") and len(labels) == 4 and len(set(labels)) == 1, row
        assert labels[0] in ("cross", "disc", "ring", "square")
    for endpoint in ("serve", "serve_uint8", "serving_default"):
        difference = float(re.search(rf"max \|reszoo\.load - {endpoint}\| = (\S+)", text)[1])
        assert difference < 1e-5
    assert "same top-1 labels from reszoo.load and tf.saved_model.load: True" in text
    assert png_count(nb) == 1
    assert "temporary files removed" in text


def test_backbone_and_deploy_compares_the_three_formats(tmp_path, monkeypatch):
    text = all_text(execute_small("05_backbone_and_deploy", tmp_path, monkeypatch))
    assert "backbone resnet8: output (None, 64)" in text
    assert "stage3: (4, 4, 64)" in text  # 16x16 images in small mode
    for name in ("model.onnx", "model_uint8.onnx", "model.tflite", "model_uint8.tflite", "saved_model.pb"):
        assert name in text
    assert "| image | SavedModel top-1 | ONNX top-1 | LiteRT top-1 |" in text
    worst = float(re.search(r"largest difference between formats: ([\d.e+-]+)", text)[1])
    assert worst <= 1e-4

"""The runtimes that serve an exported model: onnxruntime for ``.onnx``, LiteRT for ``.tflite``.

Each runner loads one file and maps an NHWC batch to its ``(N, num_classes)`` output with the same
small interface (``input_shape``, ``dtype``, ``num_outputs``, ``run(images)``), so that
``reszoo.predict.Predictor`` serves every format alike and ``reszoo.export`` checks each file it
writes by running it once. Both runtimes are imported only when a runner is made.
"""

from __future__ import annotations

import os

import numpy as np


def _shape_error(path: str, expected: tuple[int, ...], received: tuple[int, ...]) -> ValueError:
    return ValueError(
        f"{os.path.basename(path)} takes images of shape (N, {', '.join(map(str, expected))}) (NHWC). "
        f"Received shape {received}."
    )


class OnnxRunner:
    """One ``.onnx`` file in an onnxruntime ``InferenceSession`` (CPU).

    Example::

        runner = OnnxRunner("export/model.onnx")
        runner.run(np.zeros((2, *runner.input_shape), runner.dtype)).shape  # (2, 10)
    """

    def __init__(self, path: str | os.PathLike):
        import onnxruntime

        self.path = os.fspath(path)
        self.session = onnxruntime.InferenceSession(self.path, providers=["CPUExecutionProvider"])
        (spec,) = self.session.get_inputs()
        self.input_name = spec.name
        self.input_shape = tuple(int(d) for d in spec.shape[1:])
        self.dtype = np.dtype(np.uint8 if spec.type == "tensor(uint8)" else np.float32)
        self.num_outputs = int(self.session.get_outputs()[0].shape[-1])

    def run(self, images: np.ndarray) -> np.ndarray:
        """``(N, num_outputs)`` for an ``(N, H, W, C)`` batch of ``self.dtype``."""
        if tuple(images.shape[1:]) != self.input_shape:
            raise _shape_error(self.path, self.input_shape, tuple(images.shape))
        return np.asarray(self.session.run(None, {self.input_name: images})[0])


class LiteRTRunner:
    """One ``.tflite`` file in a LiteRT ``Interpreter`` (``ai_edge_litert``).

    The batch size is resized per call with ``resize_tensor_input(..., strict=True)``, which refuses
    any change but to the batch (the file's ``shape_signature`` is ``[-1, H, W, C]``).
    """

    def __init__(self, path: str | os.PathLike, num_threads: int | None = None):
        from ai_edge_litert.interpreter import Interpreter

        self.path = os.fspath(path)
        self.interpreter = Interpreter(model_path=self.path, num_threads=num_threads or os.cpu_count())
        (spec,) = self.interpreter.get_input_details()
        self._input = spec["index"]
        self._output = self.interpreter.get_output_details()[0]["index"]
        self.input_shape = tuple(int(d) for d in spec["shape_signature"][1:])
        self.dtype = np.dtype(spec["dtype"])
        self.num_outputs = int(self.interpreter.get_output_details()[0]["shape"][-1])
        self._batch: int | None = None

    def run(self, images: np.ndarray) -> np.ndarray:
        """``(N, num_outputs)`` for an ``(N, H, W, C)`` batch of ``self.dtype``."""
        if tuple(images.shape[1:]) != self.input_shape:
            raise _shape_error(self.path, self.input_shape, tuple(images.shape))
        if images.shape[0] != self._batch:
            self.interpreter.resize_tensor_input(self._input, list(images.shape), strict=True)
            self.interpreter.allocate_tensors()
            self._batch = int(images.shape[0])
        self.interpreter.set_tensor(self._input, np.ascontiguousarray(images, dtype=self.dtype))
        self.interpreter.invoke()
        return np.array(self.interpreter.get_tensor(self._output))

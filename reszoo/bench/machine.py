"""Where and with what a measurement ran: machine, CPUs, library versions, devices and peak memory.

Every ``bench`` result carries ``machine_info()`` so a table read later says what produced it. TensorFlow
and JAX are imported only on their own backend: ``bench units`` on JAX never imports TensorFlow.
"""

from __future__ import annotations

import datetime
import os
import platform
import resource
from typing import Any

import keras
import numpy as np

import reszoo
from reszoo.bench.choices import WrongBackendError
from reszoo.hardware import cpu_flags, cpu_model


def machine_info() -> dict[str, Any]:
    """Where and with what a measurement ran (imports TensorFlow only on its backend)."""
    backend = keras.backend.backend()
    info: dict[str, Any] = {
        "date": datetime.datetime.now().isoformat(timespec="seconds"),
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpu_model": cpu_model(),
        "cpu_flags": cpu_flags(),
        "cpu_count": os.cpu_count(),
        "cpus_usable": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "load_average": [round(x, 2) for x in os.getloadavg()] if hasattr(os, "getloadavg") else None,
        "backend": backend,
        "versions": {
            "python": platform.python_version(),
            "keras": keras.__version__,
            "numpy": np.__version__,
            "reszoo": reszoo.__version__,
        },
        "devices": _devices(backend),
    }
    if backend == "tensorflow":
        import tensorflow as tf

        info["versions"]["tensorflow"] = tf.__version__
        info["onednn"] = onednn_enabled()
        info["TF_ENABLE_ONEDNN_OPTS"] = os.environ.get("TF_ENABLE_ONEDNN_OPTS")
        info["threads"] = {
            "intra_op": tf.config.threading.get_intra_op_parallelism_threads() or "default (all cores)",
            "inter_op": tf.config.threading.get_inter_op_parallelism_threads() or "default (all cores)",
        }
    elif backend == "jax":
        import jax

        info["versions"]["jax"] = jax.__version__
    return info


def onednn_enabled() -> bool | None:
    """Whether TensorFlow runs its oneDNN kernels in this process (None if it cannot tell).

    TensorFlow turns them on by default only on CPUs with AVX-512 VNNI / BF16 /
    AMX features; elsewhere (this project's AMD EPYC machine) only when
    ``TF_ENABLE_ONEDNN_OPTS=1`` is set before it is imported.
    """
    try:
        from tensorflow.python.util import _pywrap_util_port  # no public API tells

        return bool(_pywrap_util_port.IsMklEnabled())
    except ImportError:
        return None


def _devices(backend: str) -> list[str]:
    if backend == "tensorflow":
        import tensorflow as tf

        return [f"{d.device_type}:{d.name}" for d in tf.config.list_physical_devices()]
    if backend == "jax":
        import jax

        return [str(d) for d in jax.devices()]
    return []


def peak_memory() -> dict[str, Any]:
    """Peak process RSS in MiB, plus the device's peak allocation where the backend reports one."""
    rss_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    memory: dict[str, Any] = {"peak_rss_mib": round(rss_kib / 1024, 1), "device_peak_mib": None}
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        gpus = tf.config.list_logical_devices("GPU")
        if gpus:
            peak = tf.config.experimental.get_memory_info(gpus[0].name)["peak"]
            memory["device_peak_mib"] = round(peak / 2**20, 1)
    elif backend == "jax":
        import jax

        stats = jax.local_devices()[0].memory_stats()  # None on the CPU
        if stats and "peak_bytes_in_use" in stats:
            memory["device_peak_mib"] = round(stats["peak_bytes_in_use"] / 2**20, 1)
    return memory


def machine_line(machine: dict[str, Any]) -> str:
    """One line above every table: date, platform, usable CPUs, backend, load and versions."""
    versions = ", ".join(f"{k} {v}" for k, v in machine["versions"].items())
    return (
        f"{machine['date']} | {machine.get('cpu_model', machine['processor'])} "
        f"({' '.join(machine.get('cpu_flags', [])) or 'flags unknown'}) | {machine['platform']} "
        f"| {machine['cpus_usable']} CPUs | backend {machine['backend']} "
        f"| load {machine['load_average']} | {versions}"
    )


def require_tensorflow(reason: str) -> None:
    """Raise ``WrongBackendError`` with ``reason`` unless Keras runs on TensorFlow."""
    if keras.backend.backend() != "tensorflow":
        raise WrongBackendError(f"{reason}; use KERAS_BACKEND=tensorflow")

"""What the machine can compute fast, and the mixed precision ``--precision auto`` picks from it.

The CPU side reads ``/proc/cpuinfo`` and imports nothing heavy (``bench`` records the same flags with
every figure); the GPU side asks TensorFlow's physical devices, which does not start its runtime (so it
may run before ``MultiWorkerMirroredStrategy`` is made).

Examples:
    auto_precision(cpu_flags=["avx512f", "amx_bf16"], gpu_capabilities=[])  # ("mixed_bfloat16", "...amx_bf16...")
    auto_precision(cpu_flags=["avx2", "fma"], gpu_capabilities=[])  # ("float32", "...")
"""

from __future__ import annotations

import os
import platform
from collections.abc import Sequence

# The instruction-set extensions a CPU training or inference step can use, as /proc/cpuinfo names them: the
# vector width (AVX2 / AVX-512) and the reduced-precision dot products (VNNI, BF16, FP16, AMX) oneDNN picks
# kernels by. Figures from CPUs that differ in these are not comparable.
SPEED_FLAGS = (
    "avx2",
    "fma",
    "avx512f",
    "avx512_vnni",
    "avx512_bf16",
    "avx512_fp16",
    "amx_tile",
    "amx_bf16",
    "amx_int8",
)
# CPU flags of native bfloat16 dot products (oneDNN's bf16 convolutions run on them; without them it
# emulates bf16 in float32 and mixed_bfloat16 trains slower than float32: benchmarks/RESULTS.md).
BF16_CPU_FLAGS = ("amx_bf16", "avx512_bf16")
# GPU compute capabilities: bfloat16 tensor cores from Ampere (8.0), float16 ones from Volta (7.0).
BF16_GPU_CAPABILITY = (8, 0)
FP16_GPU_CAPABILITY = (7, 0)


def _cpuinfo_field(name: str) -> str | None:
    """The first ``name : value`` of /proc/cpuinfo (Linux), None elsewhere."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                key, sep, value = line.partition(":")
                if sep and key.strip() == name:
                    return value.strip()
    except OSError:
        pass  # no /proc (not Linux): the callers fall back to platform's answer
    return None


def cpu_model() -> str:
    """The CPU's marketing name (``/proc/cpuinfo``'s model name), else what ``platform`` says."""
    return _cpuinfo_field("model name") or platform.processor() or platform.machine()


def cpu_flags() -> list[str]:
    """Which of ``SPEED_FLAGS`` the CPU has (empty where /proc/cpuinfo is not readable)."""
    flags = set((_cpuinfo_field("flags") or "").split())
    return [flag for flag in SPEED_FLAGS if flag in flags]


def gpu_capabilities() -> list[tuple[int, int]]:
    """The compute capability of every GPU TensorFlow sees (physical devices: the runtime is not started)."""
    import tensorflow as tf

    capabilities = []
    for gpu in tf.config.list_physical_devices("GPU"):
        capability = tf.config.experimental.get_device_details(gpu).get("compute_capability")
        capabilities.append(tuple(capability) if capability else (0, 0))
    return capabilities


def auto_precision(
    *, cpu_flags: Sequence[str], gpu_capabilities: Sequence[tuple[int, int]], onednn: bool = True
) -> tuple[str, str]:
    """(the Keras dtype policy ``--precision auto`` picks, why): on GPUs the slowest one's tensor cores
    decide (bfloat16 from Ampere, float16 from Volta, else float32); on the CPU, bfloat16 where it has
    native bf16 dot products and oneDNN runs, float32 elsewhere."""
    if gpu_capabilities:
        oldest = min(gpu_capabilities)
        version = f"compute capability {oldest[0]}.{oldest[1]}"
        if oldest >= BF16_GPU_CAPABILITY:
            return "mixed_bfloat16", f"--precision auto: GPU {version} has bfloat16 tensor cores"
        if oldest >= FP16_GPU_CAPABILITY:
            return "mixed_float16", f"--precision auto: GPU {version} has float16 tensor cores, not bfloat16"
        return "float32", f"--precision auto: GPU {version} has no reduced-precision tensor cores"
    native = [flag for flag in BF16_CPU_FLAGS if flag in cpu_flags]
    if not native:
        return "float32", f"--precision auto: the CPU has no native bfloat16 ({' / '.join(BF16_CPU_FLAGS)})"
    if not onednn:
        return "float32", "--precision auto: TF_ENABLE_ONEDNN_OPTS=0 turns off oneDNN's bfloat16 kernels"
    return "mixed_bfloat16", f"--precision auto: the CPU has native bfloat16 ({', '.join(native)})"


def auto_precision_here() -> tuple[str, str]:
    """``auto_precision`` for this machine (imports TensorFlow to list its GPUs)."""
    return auto_precision(
        cpu_flags=cpu_flags(),
        gpu_capabilities=gpu_capabilities(),
        onednn=os.environ.get("TF_ENABLE_ONEDNN_OPTS", "1") != "0",
    )

"""How the recorded-run scripts report: the JSON record on stdout, and in ``--record`` if given
(:func:`emit`), or a JSON record beside a markdown table (:func:`write_table`); what they record
of the machine."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any


def emit(record: dict[str, Any], path: str | Path | None, *,
         printed: dict[str, Any] | None = None) -> None:
    """Print ``record`` (or ``printed``, a view of it) as indented JSON; also write ``record`` to
    ``path`` (folders made) when given."""
    text = json.dumps(record, indent=2)
    print(text if printed is None else json.dumps(printed, indent=2))
    if path:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).write_text(text + "\n", encoding="utf-8")


def write_table(out: str | Path, record: dict[str, Any], table: str) -> None:
    """Write ``record`` to ``<out>.json`` and the markdown ``table`` to ``<out>.md`` (folders
    made), and print the table: how the table-printing benchmarks report."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps(record, indent=2) + "\n")
    out.with_suffix(".md").write_text(table)
    print(table)


def _cpuinfo_field(name: str) -> str | None:
    """The value of the first ``name`` line of ``/proc/cpuinfo`` (Linux), else ``None``."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith(name):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return None


def cpu_model() -> str | None:
    """The CPU's model name (``/proc/cpuinfo``), ``None`` where it cannot be read."""
    return _cpuinfo_field("model name")


def cpu_flags() -> set[str]:
    """The CPU's feature flags (``/proc/cpuinfo``: ``avx2``, ``amx_bf16`` …); empty where they
    cannot be read."""
    return set((_cpuinfo_field("flags") or "").split())


#: The vector features that set int8 and bf16 speed on x86 (CTranslate2 and torch pick kernels by
#: them): AVX2 only, AVX-512 with VNNI (int8 dot products), AMX (int8 and bf16 tiles).
SPEED_FEATURES = ("avx2", "avx512f", "avx512_vnni", "avx_vnni", "amx_int8", "amx_bf16")


def speed_features() -> list[str]:
    """Those of :data:`SPEED_FEATURES` the CPU has, in that order (empty where unreadable)."""
    flags = cpu_flags()
    return [name for name in SPEED_FEATURES if name in flags]


#: environment variables that keep the math libraries off the CPU's widest instructions (e.g. all
#: set to AVX2 to run AVX2-only kernels on an AVX-512 machine)
KERNEL_LIMITS = ("CT2_FORCE_CPU_ISA", "MKL_ENABLE_INSTRUCTIONS", "ONEDNN_MAX_CPU_ISA",
                 "OPENBLAS_CORETYPE")


def kernel_limits() -> dict[str, str]:
    """Those of :data:`KERNEL_LIMITS` set in this process's environment (a run's record says
    when its kernels were not the CPU's best)."""
    return {name: os.environ[name] for name in KERNEL_LIMITS if name in os.environ}

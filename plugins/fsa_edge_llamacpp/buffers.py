"""llama.cpp's extra CPU buffer types (weight repacking, AMX): on, off, or probed.

On some CPUs (seen on an Intel Xeon with AMX, llama-cpp-python 0.3.36) a model loaded with them
segfaults on the first batch of more than one token — the whole process dies, no error. ``auto``
therefore evaluates a short batch of the GGUF in a child process first and turns them off when
it crashes. llama-cpp-python has no constructor argument for them: :func:`extra_buffer_types`
wraps the default model parameters its ``Llama`` starts from while a model loads.
"""

from __future__ import annotations

import contextlib
import subprocess
import sys
from pathlib import Path
from typing import Iterator

from fsa_edge.errors import TeacherError

CHOICES = ("auto", "on", "off")
PROBE = """
import sys, llama_cpp
llm = llama_cpp.Llama(model_path=sys.argv[1], n_ctx=64, n_threads=1, n_gpu_layers=0,
                      verbose=False)
llm.eval(llm.tokenize(b"The pizza was tasty but the waiter was rude.", add_bos=True)[:8])
"""


def extra_buffers_crash(path: Path) -> str | None:
    """Why loading ``path`` with the extra buffer types and evaluating a short batch fails in a
    child process (e.g. ``"killed by signal 11"``), or ``None`` when it works."""
    result = subprocess.run([sys.executable, "-c", PROBE, str(path)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    if result.returncode == 0:
        return None
    if result.returncode < 0:
        return f"killed by signal {-result.returncode}"
    return f"exit {result.returncode}: {result.stderr.strip()[-300:]}"


def choose_extra_buffers(choice: str, path: Path) -> tuple[bool, str]:
    """(use the extra buffer types?, why) for the choice ``auto``, ``on`` or ``off``."""
    if choice not in CHOICES:
        raise TeacherError(f"extra_buffers={choice!r}: expected one of {', '.join(CHOICES)}")
    if choice == "on":
        return True, "on (asked for)"
    if choice == "off":
        return False, "off (asked for)"
    crash = extra_buffers_crash(path)
    if crash is None:
        return True, "on (a probe evaluated a batch with them)"
    return False, (f"off: with them llama.cpp crashed evaluating an 8-token batch of this GGUF "
                   f"on this CPU ({crash})")


@contextlib.contextmanager
def extra_buffer_types(enabled: bool) -> Iterator[None]:
    """Models loaded inside the block use the extra buffer types only if ``enabled``."""
    if enabled:
        yield
        return
    import llama_cpp.llama_cpp as lib

    original = lib.llama_model_default_params
    if not any(field[0] == "use_extra_bufts" for field in lib.llama_model_params._fields_):
        raise TeacherError("this llama-cpp-python cannot turn llama.cpp's extra buffer types "
                           "off (no use_extra_bufts in llama_model_params)")

    def without() -> object:
        params = original()
        params.use_extra_bufts = False
        return params

    lib.llama_model_default_params = without
    try:
        yield
    finally:
        lib.llama_model_default_params = original


__all__ = ["CHOICES", "choose_extra_buffers", "extra_buffer_types", "extra_buffers_crash"]

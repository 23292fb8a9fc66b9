"""fsa-edge plugin ``llamacpp``: a local GGUF model, run by llama.cpp, as the teacher.

``llama_cpp`` (``pip install 'fsa-edge[teacher]'``) is imported when a teacher is built, never
when the plugin loads, so ``fsa-edge plugins`` works without it and says it is missing.

Options (``fsa-edge distill -O key=value``): ``n_ctx`` (default 4096, capped to the model's
training context), ``n_threads`` (default: llama.cpp's choice; prompt batches use it too),
``extra_buffers`` (``auto``: llama.cpp's extra CPU buffer types unless a probe of the GGUF in a
child process crashes with them — see :mod:`.buffers`; ``on``, ``off``), ``n_gpu_layers`` (``auto``:
every layer when ``llama_cpp.llama_supports_gpu_offload()`` says the build can offload, else
0), ``chat_format`` (default: the chat template stored in the GGUF; llama-cpp-python falls
back to ``llama-2`` when the file has none). ``label`` prompts are decoded under their JSON
schema (``response_format={"type": "json_object", "schema": ...}``), so the answer follows it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fsa_edge import hookimpl, reject_unknown_options
from fsa_edge.errors import TeacherError, missing_dependency
from fsa_edge.teaching import Teacher, TeacherReply, TeacherRequest, file_sha256

from .buffers import choose_extra_buffers, extra_buffer_types

GGUF_MAGIC = b"GGUF"
DEFAULT_N_CTX = 4096


def _gpu_layers(value: Any, llama_cpp: Any) -> int:
    if value is None or value == "auto":
        return -1 if llama_cpp.llama_supports_gpu_offload() else 0
    try:
        return int(value)
    except (TypeError, ValueError):
        raise TeacherError(f"n_gpu_layers must be an integer or 'auto', not {value!r}") from None


class LlamaCppTeacher(Teacher):
    name = "llamacpp"
    requires = ("llama_cpp",)
    extra = "teacher"
    description = "a local GGUF model run by llama.cpp (llama-cpp-python)"

    def __init__(self, source, *, sampling=None, n_ctx: int = DEFAULT_N_CTX,
                 n_threads: int | None = None, n_gpu_layers: int | str = "auto",
                 chat_format: str | None = None, verbose: bool = False,
                 extra_buffers: str = "auto", **options: Any) -> None:
        super().__init__(source, sampling=sampling, **options)
        reject_unknown_options(self, options, error=TeacherError)
        try:
            import llama_cpp
        except ImportError:
            raise missing_dependency("llama-cpp-python", "teacher") from None
        if not self.source.is_file():
            raise TeacherError(f"{self.source}: no such GGUF file")
        if not self.can_load(self.source):
            raise TeacherError(f"{self.source}: not a GGUF file (no GGUF magic bytes)")
        self.n_gpu_layers = _gpu_layers(n_gpu_layers, llama_cpp)
        enabled, self.extra_buffers = choose_extra_buffers(str(extra_buffers), self.source)
        try:
            with extra_buffer_types(enabled):
                # n_threads_batch too: llama-cpp-python's own default for prompt batches is
                # every CPU, whatever n_threads says
                self.llm = llama_cpp.Llama(
                    model_path=str(self.source), n_ctx=int(n_ctx), n_threads=n_threads,
                    n_threads_batch=n_threads, n_gpu_layers=self.n_gpu_layers,
                    seed=self.sampling.seed, chat_format=chat_format, verbose=bool(verbose))
        except (ValueError, RuntimeError) as exc:
            raise TeacherError(f"{self.source}: llama.cpp cannot load it ({exc})") from None
        self.n_threads = self.llm.n_threads
        self._sha256: str | None = None

    @classmethod
    def can_load(cls, path: Path) -> bool:
        try:
            with open(path, "rb") as handle:
                return handle.read(4) == GGUF_MAGIC
        except OSError:
            return False

    @property
    def context_length(self) -> int:
        return int(self.llm.n_ctx())

    def _tokens(self, text: str) -> list[int]:
        return self.llm.tokenize(text.encode("utf-8"), add_bos=False, special=False)

    def count_tokens(self, text: str) -> int:
        return len(self._tokens(text))

    def truncate(self, text: str, max_tokens: int) -> str:
        tokens = self._tokens(text)
        keep = max_tokens
        while True:
            cut = self.llm.detokenize(tokens[:keep]).decode("utf-8", errors="ignore")
            if keep <= 0 or self.count_tokens(cut) <= max_tokens:
                return cut
            keep -= max(1, (self.count_tokens(cut) - max_tokens))

    def describe(self) -> dict[str, Any]:
        if self._sha256 is None:
            self._sha256 = file_sha256(self.source)
        return {**super().describe(), "sha256": self._sha256,
                "chat_format": self.llm.chat_format, "n_ctx": self.context_length,
                "n_threads": self.n_threads, "n_gpu_layers": self.n_gpu_layers}

    def generate(self, request: TeacherRequest) -> TeacherReply:
        settings = self.sampling
        kwargs: dict[str, Any] = {
            "messages": [dict(m) for m in request.messages],
            "temperature": settings.temperature, "top_p": settings.top_p,
            "max_tokens": settings.max_tokens, "seed": request.seed,
        }
        if request.schema is not None:
            kwargs["response_format"] = {"type": "json_object", "schema": dict(request.schema)}
        result = self.llm.create_chat_completion(**kwargs)
        choice = result["choices"][0]
        usage = result.get("usage") or {}
        return TeacherReply(text=choice["message"].get("content") or "",
                            tokens_in=int(usage.get("prompt_tokens", 0)),
                            tokens_out=int(usage.get("completion_tokens", 0)),
                            finish_reason=choice.get("finish_reason"))

    def close(self) -> None:
        llm = getattr(self, "llm", None)
        if llm is not None:
            llm.close()
            self.llm = None


@hookimpl
def register_teachers(register):
    register(LlamaCppTeacher)

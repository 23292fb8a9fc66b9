"""Versioned teacher prompts, stored as JSON data files.

A prompt file is one JSON object::

    {"name": "analysis", "version": 1, "description": "...",
     "system": "...", "user": "... {review} ...",
     "response": "text" | "json", "schema": {...}}

``user`` must contain the placeholder ``{review}`` exactly once (other braces are literal, so
JSON examples need no escaping). ``response: "json"`` prompts carry a JSON ``schema`` that a
teacher enforces by constrained decoding; their answers are read as sentiment elements
(:func:`fsa_edge.teaching.parse_label`), so a custom JSON prompt keeps the ``elements`` shape. The built-in prompts live in
``fsa_edge/teaching/prompts/``; users pass their own file with ``--prompt-file``. Every corpus
row records the prompt's name and version: change the version when you change the text.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Mapping

from ..errors import InputError

PLACEHOLDER = "{review}"
RESPONSE_KINDS = ("text", "json")


@dataclass(frozen=True)
class Prompt:
    """A named, versioned chat prompt for one review."""

    name: str
    version: int
    system: str
    user: str
    response: str = "text"
    schema: Mapping[str, Any] | None = None
    description: str = ""
    source: str = field(default="", compare=False)

    def messages(self, review_text: str) -> tuple[dict[str, str], ...]:
        """The chat messages for one review (system first when there is one)."""
        user = self.user.replace(PLACEHOLDER, review_text)
        if self.system:
            return ({"role": "system", "content": self.system}, {"role": "user", "content": user})
        return ({"role": "user", "content": user},)

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"name": self.name, "version": self.version,
                                "description": self.description, "system": self.system,
                                "user": self.user, "response": self.response}
        if self.schema is not None:
            data["schema"] = dict(self.schema)
        return data

    @classmethod
    def from_dict(cls, data: Any, *, source: str = "<prompt>") -> "Prompt":
        """Validate a prompt record; errors name the file and the field."""
        if not isinstance(data, dict):
            raise InputError("a prompt file holds one JSON object", path=source)

        def need(key: str, kind: type) -> Any:
            value = data.get(key)
            if not isinstance(value, kind) or isinstance(value, bool) or (
                    isinstance(value, str) and not value.strip()):
                raise InputError(f"required, must be a non-empty {kind.__name__}",
                                 path=source, field=key)
            return value

        name, version, user = need("name", str), need("version", int), need("user", str)
        if user.count(PLACEHOLDER) != 1:
            raise InputError(f"must contain {PLACEHOLDER} exactly once", path=source, field="user")
        system = data.get("system") or ""
        if not isinstance(system, str):
            raise InputError("must be a string", path=source, field="system")
        response = data.get("response", "text")
        if response not in RESPONSE_KINDS:
            raise InputError(f"must be one of {', '.join(RESPONSE_KINDS)}", path=source,
                             field="response")
        schema = data.get("schema")
        if response == "json" and not isinstance(schema, dict):
            raise InputError("a JSON prompt needs a JSON schema object", path=source,
                             field="schema")
        return cls(name=name, version=version, system=system, user=user, response=response,
                   schema=schema, description=str(data.get("description") or ""), source=source)


def _builtin_files() -> dict[str, Any]:
    folder = resources.files("fsa_edge.teaching") / "prompts"
    return {entry.name[:-5]: entry for entry in folder.iterdir() if entry.name.endswith(".json")}


def prompt_names() -> list[str]:
    """Names of the built-in prompts."""
    return sorted(_builtin_files())


def load_prompt(name_or_path: str | Path) -> Prompt:
    """A built-in prompt by name, or a prompt file by path."""
    path = Path(name_or_path)
    builtin = _builtin_files()
    if str(name_or_path) in builtin:
        entry = builtin[str(name_or_path)]
        source = f"fsa_edge/teaching/prompts/{entry.name}"
        text = entry.read_text(encoding="utf-8")
    elif path.suffix == ".json" or path.is_file():
        source = str(path)
        try:
            text = path.read_text(encoding="utf-8-sig")
        except FileNotFoundError:
            raise InputError("no such prompt file", path=path) from None
    else:
        raise InputError(f"unknown prompt {str(name_or_path)!r}; built-in prompts: "
                         f"{', '.join(prompt_names())} (or pass a prompt file)")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"invalid JSON ({exc.msg})", path=source, line=exc.lineno) from None
    return Prompt.from_dict(data, source=source)

"""The plugin manager: built-in and third-party plugins, loaded the same way.

Plugins are modules announced in the ``fsa_edge`` entry-point group. The first-party ones ship
in the ``fsa-edge`` wheel and are always loaded; others load unless ``FSA_EDGE_LOAD_PLUGINS``
is set, in which case only the comma-separated names listed there load (empty = built-ins only).
"""

from __future__ import annotations

import importlib
import importlib.metadata as metadata
import importlib.util
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import pluggy

from . import hookspecs
from .errors import PluginError, install_hint

ENTRY_POINT_GROUP = "fsa_edge"
ALLOW_LIST_VARIABLE = "FSA_EDGE_LOAD_PLUGINS"
DISTRIBUTION = "fsa-edge"

# First-party plugins: entry-point name → module. They are registered through their entry
# points like any third-party plugin; the import fallback only serves a source checkout that
# was never installed (no entry points on disk).
BUILTIN_PLUGINS: dict[str, str] = {
    "core_models": "fsa_edge.builtin_models",
    "ctranslate2": "fsa_edge_ctranslate2",
    "transformers": "fsa_edge_transformers",
    "seq2seq": "fsa_edge_seq2seq",
    "tagger": "fsa_edge_tagger",
    "llamacpp": "fsa_edge_llamacpp",
    "replay": "fsa_edge_replay",
}

pm = pluggy.PluginManager("fsa_edge")
pm.add_hookspecs(hookspecs)
_loaded = False


def _allowed() -> set[str] | None:
    value = os.environ.get(ALLOW_LIST_VARIABLE)
    if value is None:
        return None
    return {name.strip() for name in value.split(",") if name.strip()}


def _register(module: ModuleType, name: str) -> None:
    if pm.is_registered(module) or pm.has_plugin(name):
        return
    pm.register(module, name=name)


def load_plugins() -> pluggy.PluginManager:
    """Load every allowed plugin once and return the manager."""
    global _loaded
    if _loaded:
        return pm
    _loaded = True
    allowed = _allowed()
    for entry_point in metadata.entry_points(group=ENTRY_POINT_GROUP):
        builtin = entry_point.name in BUILTIN_PLUGINS and (
            entry_point.dist is None or entry_point.dist.name == DISTRIBUTION)
        if not builtin and allowed is not None and entry_point.name not in allowed:
            continue
        try:
            module = entry_point.load()
        except Exception as exc:  # a broken third-party plugin must not break the tool
            print(f"fsa-edge: plugin {entry_point.name!r} failed to load: {exc}", file=sys.stderr)
            continue
        _register(module, entry_point.name)
    for name, module_name in BUILTIN_PLUGINS.items():
        if not pm.has_plugin(name):
            _register(importlib.import_module(module_name), name)
    pm.check_pending()
    return pm


def reset_plugins() -> None:
    """Forget every loaded plugin (tests)."""
    global _loaded
    for name, plugin in list(pm.list_name_plugin()):
        pm.unregister(plugin=plugin, name=name)
    _loaded = False


@dataclass
class Registry:
    """What the plugins registered, collected from the hooks."""

    backends: dict[str, type] = field(default_factory=dict)
    students: dict[str, type] = field(default_factory=dict)
    teachers: dict[str, type] = field(default_factory=dict)
    converters: dict[str, type] = field(default_factory=dict)
    models: dict[str, tuple[Path, str]] = field(default_factory=dict)
    owners: dict[tuple[str, str], str] = field(default_factory=dict)


def converter_key(converter: type) -> str | None:
    """A converter's registry key: the Hugging Face config class it converts, followed by the
    file that marks its sources when it has one (``BertConfig+heads.npz``)."""
    config_name = getattr(converter, "config_name", None)
    marker = getattr(converter, "marker_file", None)
    return f"{config_name}+{marker}" if config_name and marker else config_name


def _collect(kind: str, hook_name: str, registry: Registry, target: dict) -> None:
    key_of = converter_key if kind == "converter" else (lambda item: getattr(item, "name", None))
    for plugin_name, plugin in pm.list_name_plugin():
        hook = getattr(plugin, hook_name, None)
        if hook is None:
            continue

        def register(item: Any, path: Any = None, description: str = "",
                     _plugin: str = plugin_name) -> None:
            if kind == "model":
                target[str(item)] = (Path(path), description)
                registry.owners[(kind, str(item))] = _plugin
                return
            name = key_of(item)
            if not isinstance(name, str) or not name:
                field_name = "config_name" if kind == "converter" else "name"
                raise PluginError(f"plugin {_plugin!r} registered a {kind} without a {field_name}")
            if name in target and target[name] is not item:
                raise PluginError(f"{kind} {name!r} registered twice (by "
                                  f"{registry.owners[(kind, name)]!r} and {_plugin!r})")
            target[name] = item
            registry.owners[(kind, name)] = _plugin

        hook(register=register)


def registry() -> Registry:
    """Everything the loaded plugins register (collected fresh on each call)."""
    load_plugins()
    result = Registry()
    _collect("backend", "register_backends", result, result.backends)
    _collect("student", "register_students", result, result.students)
    _collect("teacher", "register_teachers", result, result.teachers)
    _collect("converter", "register_converters", result, result.converters)
    _collect("model", "register_models", result, result.models)
    return result


def missing_requirements(item: type) -> list[str]:
    """The import names an item ``requires`` that are not installed."""
    return [name for name in getattr(item, "requires", ())
            if importlib.util.find_spec(name) is None]


def choose(table: dict[str, type], *, name: str | None, path: Path, kind: str,
           error: type[Exception]) -> type:
    """The registered class that serves ``path``: the one ``name``d, else the first whose
    ``can_load(path)`` accepts it. Raises ``error`` listing the known names, or naming the
    missing requirements and the extra that installs them."""
    known = ", ".join(sorted(table)) or "none"
    if name is not None:
        if name not in table:
            raise error(f"unknown {kind} {name!r}; known {kind}s: {known}")
        chosen = table[name]
    else:
        able = [cls for cls in table.values() if cls.can_load(path)]
        if not able:
            raise error(f"no {kind} recognises {path}; known {kind}s: {known}")
        chosen = able[0]
    missing = missing_requirements(chosen)
    if missing:
        extra = f" ({install_hint(chosen.extra)})" if getattr(chosen, "extra", None) else ""
        raise error(f"{kind} {chosen.name!r} needs {', '.join(missing)}{extra}")
    return chosen


def describe_plugins() -> list[dict[str, Any]]:
    """One record per loaded plugin: name, version, what it registers, what is missing."""
    reg = registry()
    versions = {}
    for entry_point in metadata.entry_points(group=ENTRY_POINT_GROUP):
        dist = entry_point.dist
        versions[entry_point.name] = (dist.name, dist.version) if dist else (None, None)
    records = []
    for name, plugin in sorted(pm.list_name_plugin()):
        dist_name, version = versions.get(name, (DISTRIBUTION, _own_version()))
        record: dict[str, Any] = {
            "name": name, "module": getattr(plugin, "__name__", str(plugin)),
            "distribution": dist_name, "version": version,
            "builtin": name in BUILTIN_PLUGINS,
            "hooks": sorted(h.name for h in pm.get_hookcallers(plugin) or []),
        }
        for kind, table in (("backends", reg.backends), ("students", reg.students),
                            ("teachers", reg.teachers), ("converters", reg.converters)):
            items = [{"name": item_name, "requires": list(getattr(item, "requires", ())),
                      "missing": missing_requirements(item),
                      "extra": getattr(item, "extra", None)}
                     for item_name, item in sorted(table.items())
                     if reg.owners.get((kind[:-1], item_name)) == name]
            if items:
                record[kind] = items
        models = [{"alias": alias, "path": str(path), "exists": path.exists(),
                   "description": description}
                  for alias, (path, description) in sorted(reg.models.items())
                  if reg.owners.get(("model", alias)) == name]
        if models:
            record["models"] = models
        records.append(record)
    return records


def _own_version() -> str | None:
    try:
        return metadata.version(DISTRIBUTION)
    except metadata.PackageNotFoundError:
        return None

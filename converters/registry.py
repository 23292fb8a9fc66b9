"""Which converter handles a source: the converters plugins register (``register_converters``).

There is one registry, the plugin manager's; this module only reads it.
"""

from __future__ import annotations

from pathlib import Path

from fsa_edge.errors import ConversionError, install_hint
from fsa_edge.plugins import converter_key, missing_requirements, registry

from .base import ArchitectureConverter


def supported_architectures() -> list[str]:
    """The registry keys: config class names (``BartConfig``), some with a marker file
    (``BertConfig+heads.npz``)."""
    return sorted(registry().converters)


def converter_for(config_name: str, source: str | Path | None = None) -> ArchitectureConverter:
    """A converter instance for a config class name (or a registry key). With ``source``, a
    converter of that config whose ``marker_file`` the source holds comes first. An unknown
    architecture lists the supported ones; missing requirements name the extra to install."""
    table = registry().converters
    marked = [cls for cls in table.values()
              if source is not None and cls.config_name == config_name and cls.marker_file
              and (Path(source) / cls.marker_file).is_file()]
    if len(marked) > 1:
        raise ConversionError(f"{source}: converters {', '.join(sorted(map(converter_key, marked)))}"
                              " all match it (it holds each one's marker file)")
    cls = marked[0] if marked else table.get(config_name)
    if cls is None:
        raise ConversionError(f"unsupported architecture {config_name}; supported: "
                              f"{', '.join(sorted(table)) or 'none'}")
    missing = missing_requirements(cls)
    if missing:
        hint = f" ({install_hint(cls.extra)})" if cls.extra else ""
        raise ConversionError(f"converting {config_name} needs {', '.join(missing)}{hint}")
    return cls()

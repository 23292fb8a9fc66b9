"""Which converter handles which Hugging Face architecture, keyed by config class name."""

from __future__ import annotations

from typing import Callable, TypeVar

from fsa_edge.errors import ConversionError

from .base import ArchitectureConverter

_CONVERTERS: dict[str, type[ArchitectureConverter]] = {}
C = TypeVar("C", bound=type[ArchitectureConverter])


def register_converter(config_name: str) -> Callable[[C], C]:
    """Class decorator: ``@register_converter("T5Config")``."""

    def decorate(cls: C) -> C:
        if config_name in _CONVERTERS and _CONVERTERS[config_name] is not cls:
            raise ConversionError(f"a converter for {config_name} is already registered "
                                  f"({_CONVERTERS[config_name].__name__})")
        cls.config_name = config_name
        _CONVERTERS[config_name] = cls
        return cls

    return decorate


def supported_architectures() -> list[str]:
    return sorted(_CONVERTERS)


def converter_for(config_name: str) -> ArchitectureConverter:
    """A converter instance for a config class name; an unknown one lists the supported."""
    cls = _CONVERTERS.get(config_name)
    if cls is None:
        raise ConversionError(f"unsupported architecture {config_name}; supported: "
                              f"{', '.join(supported_architectures())}")
    return cls()

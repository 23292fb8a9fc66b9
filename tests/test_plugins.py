"""Plugin discovery through real entry points, the allow-list, and hook validation."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import types
from pathlib import Path

import pluggy
import pytest

from fsa_edge import hookimpl
from fsa_edge.plugins import describe_plugins, load_plugins, pm

from conftest import install_plugin

PLUGIN_SOURCE = textwrap.dedent('''
    from fsa_edge import Backend, hookimpl

    class EchoBackend(Backend):
        name = "echo-from-entry-point"
        requires = ("a_module_that_does_not_exist",)
        extra = "echo"

        def predict(self, texts, *, task):
            return []

    @hookimpl
    def register_backends(register):
        register(EchoBackend)
''')


@pytest.fixture
def installed_plugin(tmp_path: Path) -> Path:
    """A third-party distribution installed into a folder: a module and its dist-info."""
    return install_plugin(tmp_path / "site", "fsa_edge_echo", PLUGIN_SOURCE,
                          distribution="fsa-edge-echo", version="1.2.3", entry_point="echo")


def plugins_json(site: Path | None, allow: str | None) -> list[dict]:
    env = dict(os.environ)
    env.pop("FSA_EDGE_LOAD_PLUGINS", None)
    if allow is not None:
        env["FSA_EDGE_LOAD_PLUGINS"] = allow
    if site is not None:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(site), env.get("PYTHONPATH")]))
    out = subprocess.run([sys.executable, "-m", "fsa_edge.cli", "plugins"], capture_output=True,
                         text=True, env=env, check=True)
    return json.loads(out.stdout)


def test_entry_point_discovery_and_allow_list(installed_plugin):
    everything = {p["name"]: p for p in plugins_json(installed_plugin, None)}
    echo = everything["echo"]
    assert echo["distribution"] == "fsa-edge-echo" and echo["version"] == "1.2.3"
    backend = echo["backends"][0]
    assert backend["name"] == "echo-from-entry-point"
    assert backend["missing"] == ["a_module_that_does_not_exist"] and backend["extra"] == "echo"
    assert "lexicon" in everything  # the example plugin of the dev install

    only_builtins = {p["name"] for p in plugins_json(installed_plugin, "")}
    assert "echo" not in only_builtins and "lexicon" not in only_builtins
    assert "core_models" in only_builtins

    allowed = {p["name"] for p in plugins_json(installed_plugin, "echo")}
    assert "echo" in allowed and "lexicon" not in allowed and "core_models" in allowed


def test_misspelled_hook_is_caught():
    plugin = types.ModuleType("typo_plugin")

    @hookimpl
    def register_backend(register):  # missing "s"
        pass

    plugin.register_backend = register_backend
    load_plugins()
    pm.register(plugin, name="typo")
    try:
        with pytest.raises(pluggy.PluginValidationError):
            pm.check_pending()
    finally:
        pm.unregister(plugin)


def test_builtin_plugins_are_listed_with_what_they_register():
    records = {p["name"]: p for p in describe_plugins()}
    core = records["core_models"]
    assert core["builtin"] and core["distribution"] == "fsa-edge"
    assert core["models"][0]["alias"] == "default"

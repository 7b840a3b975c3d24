"""The health package's lazy re-exports: every public name resolves to the object it names,
and the pure modules (spec, state) load without the probes' trio and structlog."""

from __future__ import annotations

import importlib
import subprocess
import sys

import haipvs.health


def test_every_public_name_resolves():
    for name in haipvs.health.__all__:
        assert getattr(haipvs.health, name) is not None, name


def test_genhash_stays_the_function_after_its_module_is_imported():
    importlib.import_module("haipvs.health.url_digest")
    from haipvs.health import genhash

    assert callable(genhash)
    assert genhash is importlib.import_module("haipvs.health.url_digest").genhash


def test_no_submodule_shadows_a_reexported_name():
    # Importing a submodule binds its name on the package, replacing a lazy re-export.
    modules = set(haipvs.health._EXPORTS.values())
    assert modules.isdisjoint(haipvs.health._EXPORTS)


def test_pure_modules_load_without_trio_or_structlog():
    code = (
        "import sys\n"
        "import haipvs.health.spec, haipvs.health.state\n"
        "print(sorted(m for m in ('trio', 'structlog', 'pyroute2') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "[]"

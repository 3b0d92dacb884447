"""Each distribution declares what its source imports, and imports what it declares.

An AST scan of every ``import`` in ``packages/<name>/src`` (at any depth: imports inside
functions and ``TYPE_CHECKING`` blocks count too), minus the standard library and the
package itself, mapped to distribution names, against ``[project] dependencies`` of its
``pyproject.toml``. A missing declaration breaks ``pip install`` of that package alone; an unused
one drags a heavy dependency (deepdiff, jsonschema, ...) into packages that never use it.
"""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

import pytest

PACKAGES = Path(__file__).resolve().parents[2]

#: Import names whose distribution is not found by ``packages_distributions`` (workspace
#: members installed editable) or differs from the name.
_KNOWN = {
    "traceforge_shared": "traceforge-shared",
    "traceforge_proxy": "traceforge-proxy",
    "traceforge_web_api": "traceforge-web-api",
    "traceforge_tui": "traceforge-tui",
    "traceforge_cli": "traceforge-cli",
    "traceforge": "traceforge-sdk",
}

#: Declared but not imported, on purpose: distribution -> why.
_DECLARED_UNUSED: dict[str, dict[str, str]] = {}

#: Imported but not declared, on purpose: package -> {import name: why}.
_IMPORTED_UNDECLARED: dict[str, dict[str, str]] = {
    "traceforge-proxy": {
        "pytest": "pytest_plugin.py is loaded by pytest itself (the pytest11 entry point)",
    },
    "traceforge-web-api": {
        "playwright": "headless.py serves the browser tests only; they skip without it",
    },
}


def _normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _project(package: Path) -> dict[str, object]:
    with (package / "pyproject.toml").open("rb") as file:
        project: dict[str, object] = tomllib.load(file)["project"]
    return project


def _declared(package: Path) -> dict[str, str]:
    """Distribution (normalized) -> its requirement text."""
    requirements = _project(package).get("dependencies", [])
    assert isinstance(requirements, list)
    declared = {}
    for requirement in requirements:
        match = re.match(r"[A-Za-z0-9][A-Za-z0-9._-]*", requirement)
        assert match, requirement
        declared[_normalize(match.group())] = requirement
    return declared


def imported_modules(src: Path) -> set[str]:
    """Top-level names of every absolute import under ``src`` (``a`` of ``import a.b``)."""
    names: set[str] = set()
    for path in src.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            if isinstance(node, ast.Import):
                names.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module.split(".")[0])
    return names


def third_party(src: Path, own: str) -> dict[str, list[str]]:
    """Import name -> distributions (normalized) of each non-stdlib module ``src`` imports
    (several for a namespace package such as ``google`` or ``opentelemetry``: any one of
    them declared covers the import).

    Raises:
        AssertionError: an imported module belongs to no installed distribution.
    """
    found = packages_distributions()
    result = {}
    for name in sorted(imported_modules(src)):
        if name in sys.stdlib_module_names or name == "__future__" or name == own:
            continue
        dists = [_KNOWN[name]] if name in _KNOWN else found.get(name, [])
        assert dists, f"{src}: `import {name}` belongs to no installed distribution"
        result[name] = [_normalize(d) for d in dists]
    return result


def _packages() -> list[Path]:
    return sorted(p for p in PACKAGES.iterdir() if (p / "pyproject.toml").is_file())


@pytest.mark.parametrize("package", _packages(), ids=lambda p: p.name)
def test_every_import_is_declared_and_every_declaration_imported(package: Path) -> None:
    name = str(_project(package)["name"])
    (src,) = [p for p in (package / "src").iterdir() if p.is_dir() and p.name.isidentifier()]
    imports = third_party(src, src.name)
    declared = _declared(package)
    exempt = _IMPORTED_UNDECLARED.get(name, {})
    missing = sorted(
        f"{module} ({' or '.join(dists)})"
        for module, dists in imports.items()
        if module not in exempt and not any(d in declared for d in dists)
    )
    assert missing == [], f"{name} imports but does not declare: {missing}"
    used = {d for dists in imports.values() for d in dists}
    unused = set(declared) - used - set(_DECLARED_UNUSED.get(name, {}))
    assert sorted(unused) == [], f"{name} declares but never imports: {sorted(unused)}"


@pytest.mark.parametrize("package", _packages(), ids=lambda p: p.name)
def test_every_third_party_requirement_has_a_floor(package: Path) -> None:
    for dist, requirement in _declared(package).items():
        if dist.startswith("traceforge-"):
            continue
        assert ">=" in requirement, f"{requirement}: give the first version that works"


def test_the_scan_sees_nested_and_type_only_imports(tmp_path: Path) -> None:
    src = tmp_path / "pkg"
    src.mkdir()
    (src / "a.py").write_text(
        "from __future__ import annotations\nimport os.path\nfrom typing import TYPE_CHECKING\n"
        "from . import b\nif TYPE_CHECKING:\n    from msgspec import Struct\n"
        "def f():\n    import click.testing\n"
    )
    assert imported_modules(src) == {"__future__", "os", "typing", "msgspec", "click"}
    assert third_party(src, "pkg") == {"click": ["click"], "msgspec": ["msgspec"]}


def test_the_floors_that_were_wrong() -> None:
    """Regression: the TUI uses ``App.theme`` (Textual 0.86) and the proxy ``web.RequestKey``
    (aiohttp 3.14)."""
    tui = _declared(PACKAGES / "tui")
    assert tui["textual"] == "textual>=0.86"
    assert _declared(PACKAGES / "proxy")["aiohttp"] == "aiohttp>=3.14"

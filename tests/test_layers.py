"""The README's layer list is the import-linter contracts of pyproject.toml, word for word.

``lint-imports`` (in .ci/run) proves the code keeps the contracts; this test proves the README
describes the contracts, and that every module of luma_nb is classified.
"""

from __future__ import annotations

import ast
import re
import sys
from pathlib import Path

import pytest

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    tomllib = pytest.importorskip("tomli")

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "luma_nb"


def _contracts() -> dict[str, dict]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    linter = config["tool"]["importlinter"]
    assert linter["root_package"] == "luma_nb"
    return {contract["id"]: contract for contract in linter["contracts"]}


def _readme_block(name: str) -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    match = re.search(rf"<!-- {name} -->(.*?)<!-- /{name} -->", text, re.S)
    assert match, f"README.md has no <!-- {name} --> block"
    return match.group(1)


def _top_level_modules() -> set[str]:
    names = {p.stem for p in PACKAGE.glob("*.py") if p.stem != "__init__"}
    names |= {p.parent.name for p in PACKAGE.glob("*/__init__.py")}
    return names


def _layer_members(layer: str) -> list[str]:
    return [part.strip() for part in re.split(r"[|:]", layer)]


def test_readme_layers_are_the_contract_layers() -> None:
    contract = _contracts()["layers"]
    lines = [line for line in _readme_block("layers").splitlines() if line and "```" not in line]
    # Each README line: the layer exactly as in the contract, then two or more spaces, then prose.
    readme_layers = [re.split(r"\s{2,}", line.strip(), maxsplit=1)[0] for line in lines]
    assert readme_layers == contract["layers"]


def test_readme_core_is_the_contract_core() -> None:
    block = _readme_block("core")
    readme_core = {f"luma_nb.{name}" for name in re.findall(r"`([\w.]+)`", block)}
    assert readme_core == set(_contracts()["core"]["source_modules"])


def test_the_layers_classify_every_module_once() -> None:
    contract = _contracts()["layers"]
    assert contract["containers"] == ["luma_nb"]
    assert contract["exhaustive"] is True
    members = [m for layer in contract["layers"] for m in _layer_members(layer)]
    assert len(members) == len(set(members))
    assert set(members) == _top_level_modules()


def test_core_and_notebook_layer_split_the_package() -> None:
    core = _contracts()["core"]
    sources = {m.removeprefix("luma_nb.") for m in core["source_modules"]}
    forbidden = {m.removeprefix("luma_nb.") for m in core["forbidden_modules"]}
    assert not sources & forbidden
    # Everything but the version string is either core, or something the core may not import.
    assert sources | forbidden | {"_version"} == _top_level_modules()


def test_the_only_exception_is_the_lazy_renderer_in_models() -> None:
    contracts = _contracts()
    exceptions = {
        rule for contract in contracts.values() for rule in contract.get("ignore_imports", [])
    }
    assert exceptions == {"luma_nb.models -> luma_nb.display"}
    # ...and it really is lazy: models does not import the renderer at module level.
    source = (PACKAGE / "models.py").read_text(encoding="utf-8")
    assert not re.search(r"^(from|import) luma_nb\.display", source, re.M)
    assert re.search(r"^\s+from luma_nb\.display import", source, re.M)


def test_the_simulator_contract_forbids_all_of_luma_nb() -> None:
    contract = _contracts()["simulator"]
    assert contract["source_modules"] == ["luma_nb.simulator"]
    assert contract["forbidden_modules"] == ["luma_nb.*"]


def test_private_modules_stay_in_their_package() -> None:
    contract = _contracts()["private"]
    assert contract["type"] == "private_modules"
    assert contract["packages_with_private_modules"] == ["luma_nb"]


# `from luma_nb.x import _name` of a function or class (not of a private module): none is left
# since the one renderer (luma_nb.render) replaced the shared helpers of `display`.
KNOWN_PRIVATE_NAME_IMPORTS: set[tuple[str, str, str]] = set()


def _private_name_imports() -> set[tuple[str, str, str]]:
    found = set()
    for path in sorted(PACKAGE.rglob("*.py")):
        module = ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.ImportFrom) or node.level or not node.module:
                continue
            if not node.module.startswith("luma_nb") or node.module == module:
                continue
            for alias in node.names:
                name = alias.name
                if not name.startswith("_") or name.startswith("__"):
                    continue
                target = ROOT / Path(*f"{node.module}.{name}".split("."))
                if target.with_suffix(".py").exists() or target.is_dir():
                    continue  # a private module: the import-linter contract's business
                found.add((module, node.module, name))
    return found


def test_no_module_imports_another_modules_private_names() -> None:
    found = _private_name_imports()
    new = sorted(found - KNOWN_PRIVATE_NAME_IMPORTS)
    assert not new, f"private names imported across modules: {new}"
    gone = sorted(KNOWN_PRIVATE_NAME_IMPORTS - found)
    assert not gone, f"no longer imported, remove from KNOWN_PRIVATE_NAME_IMPORTS: {gone}"

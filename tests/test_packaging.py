"""What ``pip install .`` installs: the toolkit's three packages with the default table, dependencies as imported."""

from __future__ import annotations

import ast
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest
import tomllib

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("nas", "spaces", "estimators")
#: Distribution name -> the module it is imported as, where they differ.
MODULE_OF = {"pyyaml": "yaml", "scikit-learn": "sklearn", "pillow": "PIL", "psycopg2-binary": "psycopg2"}
#: Declared but reached only through another library, not imported by name.
INDIRECT = {"psycopg2": "the SQLAlchemy driver of postgresql:// ledgers"}
#: Imported only where a user asks for it, and then with a one-line error if missing: not installed by default.
OPTIONAL = {"pandas": "SearchResult.to_dataframe()"}


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> zipfile.ZipFile:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w", str(out), str(ROOT)],
        check=True,
        cwd=out,
        capture_output=True,
    )
    return zipfile.ZipFile(next(out.glob("*.whl")))


def test_the_wheel_holds_the_toolkit_and_its_tables_but_no_benchmarks(wheel):
    from nas.tables import DEFAULT_TABLE_NAME, OLD_DEFAULT_TABLE_NAME

    tops = {name.split("/")[0] for name in wheel.namelist() if not name.split("/")[0].endswith(".dist-info")}
    assert tops == set(PACKAGES)
    assert {f"nas/tables/{DEFAULT_TABLE_NAME}", f"nas/tables/{OLD_DEFAULT_TABLE_NAME}"} <= set(wheel.namelist())


def _declared() -> set[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    names = set()
    for requirement in project["dependencies"]:
        name = requirement.split(";")[0].split("[")[0]
        for mark in "<>=!~ ":
            name = name.split(mark)[0]
        names.add(MODULE_OF.get(name.lower(), name.lower()))
    return names


class _Imports(ast.NodeVisitor):
    """Top-level module names imported at run time (imports under ``if TYPE_CHECKING:`` are for type checkers)."""

    def __init__(self) -> None:
        self.found: set[str] = set()

    def visit_If(self, node: ast.If) -> None:
        if not (isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING"):
            self.generic_visit(node)

    def visit_Import(self, node: ast.Import) -> None:
        self.found |= {alias.name.split(".")[0] for alias in node.names}

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        if node.level == 0 and node.module:
            self.found.add(node.module.split(".")[0])


def _imported() -> set[str]:
    visitor = _Imports()
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            visitor.visit(ast.parse(path.read_text()))
    return {name for name in visitor.found if name not in sys.stdlib_module_names and name not in PACKAGES}


def test_declared_dependencies_are_the_imported_ones():
    declared, imported = _declared(), _imported()
    missing = imported - declared - set(OPTIONAL)
    assert missing == set(), f"imported but not declared in pyproject: {missing}"
    unused = declared - imported - set(INDIRECT)
    assert unused == set(), f"declared in pyproject but never imported: {unused}"


def test_python_finds_the_installed_table_not_a_checkout_path():
    from nas.tables import default_table

    path = default_table()
    assert path.is_file() and path.parent.name == "tables" and path.parent.parent.name == "nas"
    assert path.name == "x3d_dense.h5", "the default table is the dense one on the default data"
    assert sysconfig.get_paths()  # the table is looked up through importlib.resources, not the working folder

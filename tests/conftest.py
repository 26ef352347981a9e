"""Shared fixtures: every space the suites run against, including a toy one and the example plugin."""

from __future__ import annotations

import pytest

from estimators.data.synthetic import SynthSettings
from spaces import get_space, list_spaces, register_space, unregister_space
from tests.examples.plugin import PLUGIN_SPACE, PLUGIN_STRATEGY, install_plugin
from tests.spaces.toy_space import ToySpace

#: The tiny synthetic clip cache of the data, training and search tests.
TINY = SynthSettings(classes=4, clips_per_class=6, frames=16, size=32, seed=3, val_fraction=0.15, test_fraction=0.15)


@pytest.fixture(scope="session", autouse=True)
def toy_space_registered():
    """Register the toy space for the whole session (and only for tests)."""
    register_space("toy", ToySpace, replace=True)
    yield
    unregister_space("toy")


@pytest.fixture(scope="session")
def plugin_space(tmp_path_factory):
    """The example plugin (``examples/plugin_space``) pip-installed into a folder put on ``sys.path``, for the session.

    Its space is then found the way an installed plugin's is: through its
    ``.dist-info`` entry point.  Yields the folder (``PYTHONPATH`` for subprocesses).
    """
    import importlib
    import sys

    site = install_plugin(tmp_path_factory.mktemp("plugin"))
    sys.path.insert(0, str(site))
    importlib.invalidate_caches()
    yield site
    sys.path.remove(str(site))


def all_space_names() -> list[str]:
    """Every registered space plus the toy space and the example plugin's: conformance suites run on each."""
    return sorted(set(list_spaces()) | {"toy", PLUGIN_SPACE})


def space_for(request: pytest.FixtureRequest, name: str):
    """The space ``name``, installing the example plugin first when it is the plugin's."""
    if name == PLUGIN_SPACE:
        request.getfixturevalue("plugin_space")
    return get_space(name)


def all_strategy_names() -> list[str]:
    """Every registered strategy plus the example plugin's: the strategy conformance suite runs on each."""
    from nas.strategies import list_strategies

    return sorted(set(list_strategies()) | {PLUGIN_STRATEGY})


def strategy_for(request: pytest.FixtureRequest, name: str) -> str:
    """The strategy ``name``, installing the example plugin first when it is the plugin's."""
    if name == PLUGIN_STRATEGY:
        request.getfixturevalue("plugin_space")
    return name


@pytest.fixture(params=all_space_names())
def any_space(request, toy_space_registered):
    return space_for(request, request.param)


@pytest.fixture(scope="session")
def torch_only_python(tmp_path_factory):
    """The python of a fresh venv holding torch, its requirements and this project (``--no-deps``), nothing else."""
    from tests.spaces.reuse import install_project, torch_only_venv

    folder = tmp_path_factory.mktemp("torch-only")
    python = torch_only_venv(folder / "venv")
    install_project(python, folder)
    return python


@pytest.fixture(scope="session")
def tiny_cache(tmp_path_factory):
    """A tiny synthetic clip cache, built once per session (4 classes x 6 clips of 16 frames at 32^2)."""
    from estimators.data.ingest import build_synthetic

    path = tmp_path_factory.mktemp("caches") / "tiny"
    build_synthetic(path, TINY, codec="raw", workers=1)
    return path


@pytest.fixture(scope="session")
def postgres(tmp_path_factory):
    """A throw-away PostgreSQL cluster for the whole session (CI installs the server where it is missing)."""
    import os

    from tests.pg_cluster import PostgresCluster, find_binaries

    bin_dir = find_binaries()
    if bin_dir is None:
        if os.environ.get("CI"):
            pytest.fail("PostgreSQL server binaries not found; .ci/run installs the 'postgresql' package")
        pytest.skip("PostgreSQL server binaries not found (apt install postgresql)")
    cluster = PostgresCluster(bin_dir).start()
    yield cluster
    cluster.stop()


@pytest.fixture
def postgres_url(postgres, request):
    """A fresh database in the session's cluster, named after the test."""
    import re

    name = re.sub(r"[^a-z0-9_]", "_", request.node.name.lower())[:50]
    return postgres.create_database(name)

"""A tiny synthetic clip cache shared by the data tests (built once per session)."""

from __future__ import annotations

import pytest

from estimators.data.ingest import build_synthetic
from estimators.data.synthetic import SynthSettings

TINY = SynthSettings(classes=4, clips_per_class=6, frames=16, size=32, seed=3)


@pytest.fixture(scope="session")
def tiny_cache(tmp_path_factory):
    path = tmp_path_factory.mktemp("caches") / "tiny"
    build_synthetic(path, TINY, codec="raw", workers=1)
    return path

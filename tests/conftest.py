"""Shared fixtures: every space the suites run against, including a toy one."""

from __future__ import annotations

import pytest

from spaces import get_space, list_spaces, register_space, unregister_space
from tests.spaces.toy_space import ToySpace


@pytest.fixture(scope="session", autouse=True)
def toy_space_registered():
    """Register the toy space for the whole session (and only for tests)."""
    register_space("toy", ToySpace, replace=True)
    yield
    unregister_space("toy")


def all_space_names() -> list[str]:
    """Every registered space plus the toy space: conformance suites run on each."""
    return sorted(set(list_spaces()) | {"toy"})


@pytest.fixture(params=all_space_names())
def any_space(request, toy_space_registered):
    return get_space(request.param)

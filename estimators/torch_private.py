"""torch's private APIs, in one place (tests/nas/test_private_apis.py fails loudly if a release moves them).

Counting operators as a network runs needs a dispatch mode, which torch
offers only as ``torch.utils._python_dispatch.TorchDispatchMode``, and the
operator family of an ``OpOverload`` (``_overloadpacket``), which is how
``torch.utils.flop_counter`` itself keys its formulas.
"""

from __future__ import annotations

from typing import Any

from torch.utils._python_dispatch import TorchDispatchMode

__all__ = ["TorchDispatchMode", "overload_packet"]


def overload_packet(func: Any) -> Any:
    """The operator family (``aten.convolution``) of one of its overloads (``aten.convolution.default``)."""
    return func._overloadpacket

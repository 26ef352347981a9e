"""The clip cache: ingestion (PyAV) and the synthetic default into LMDB, and the clip loader.

Names are imported on first use, so that importing one submodule (the CLI
reads ``SynthSettings`` to show its defaults) does not import torch.
"""

from importlib import import_module

_EXPORTS = {
    "FORMAT_VERSION": "cache",
    "ClipCache": "cache",
    "CacheError": "errors",
    "IngestError": "errors",
    "ClipDataset": "dataset",
    "ClipSampling": "dataset",
    "normalise_batch": "dataset",
    "SynthSettings": "synthetic",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(f".{_EXPORTS[name]}", __name__), name)

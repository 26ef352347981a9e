"""The clip cache: ingestion (PyAV) and the synthetic default into LMDB, and the clip loader."""

from .cache import FORMAT_VERSION, ClipCache
from .dataset import ClipDataset, ClipSampling, normalise_batch
from .errors import CacheError, IngestError
from .synthetic import SynthSettings

__all__ = ["FORMAT_VERSION", "CacheError", "ClipCache", "ClipDataset", "ClipSampling", "IngestError", "SynthSettings", "normalise_batch"]

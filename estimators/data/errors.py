"""Errors of the clip cache: each says which cache or key, and what to do."""

from spaces.errors import NasError, RunFailure


class CacheError(NasError):
    """A clip cache is missing, of another format version, corrupt, or unsuitable."""


class CacheFailure(CacheError, RunFailure):
    """A cache found corrupt while being read, or one that could not be written (a full disk): exit 1."""


class IngestError(NasError):
    """Ingestion could not start (no annotations, no videos, nothing stored)."""

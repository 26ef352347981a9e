"""Errors of the clip cache: each says which cache or key, and what to do."""

from spaces.errors import NasError


class CacheError(NasError):
    """A clip cache is missing, of another format version, corrupt, or unsuitable."""


class IngestError(NasError):
    """Ingestion could not start (no annotations, no videos, nothing stored)."""

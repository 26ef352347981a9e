"""The toolkit's single version string (pyproject reads it; fingerprints include it)."""

__version__ = "0.1.0"

"""The package version (one place; imported by the package and by the cache fingerprints)."""

__version__ = "0.1.0"

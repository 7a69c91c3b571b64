"""One exception family for everything a user can cause.

Leaves also inherit the builtin they resemble, so ``except ValueError`` keeps working
(the r5py convention).
"""

from __future__ import annotations


class AccessError(Exception):
    """Base class of every error raised by ``access`` for a problem in its inputs or settings."""


class ValidationError(ValueError, AccessError):
    """An argument or an input table is invalid (missing column, duplicate ids, bad CRS, ...)."""


class InputFileError(ValueError, AccessError):
    """An input file is missing, truncated or not in the expected format."""


class NetworkError(ValueError, AccessError):
    """A network cannot be built or used (no usable ways for a mode, points off the network, ...)."""


class GTFSError(ValueError, AccessError):
    """A GTFS feed is invalid in a way that would make routing wrong."""


class ScenarioError(ValueError, AccessError):
    """A scenario edit cannot be applied (unknown id, point off the network, bad value)."""


class FetchError(OSError, AccessError):
    """A download failed (HTTP error, checksum mismatch, stalled server)."""


class DiskFullError(OSError, AccessError):
    """An output could not be written because its disk is full (or over quota); nothing was half-written."""


class AccessWarning(UserWarning):
    """Warnings about inputs where work can go on (points not snapped, rows dropped)."""

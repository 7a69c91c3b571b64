"""Decode an OpenStreetMap ``.pbf``/``.osm`` file into plain arrays (pyosmium). No routing decisions here.

:func:`read_highways` streams the file once with node locations and keeps every way that carries a
``highway`` tag, with the few tags the mode profiles read.
"""

from __future__ import annotations

from array import array
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from .._errors import InputFileError

#: tags kept per way (everything the mode profiles look at)
WAY_TAGS = (
    "highway", "area", "access", "foot", "bicycle", "motor_vehicle", "motorcar", "vehicle", "oneway",
    "oneway:bicycle", "junction", "maxspeed", "cycleway", "motorroad", "service",
    # cycling stress (access.network.profiles.way_lts)
    "lanes", "cycleway:left", "cycleway:right", "lts",
)


@dataclass(frozen=True)
class DecodedWays:
    """Ways with a ``highway`` tag: ``tags`` (one row per way, string columns, '' when absent),
    ``way_id`` int64[w], node refs flattened (``node_offsets`` int64[w+1] into ``node_id``/``lon``/``lat``)."""

    way_id: np.ndarray
    tags: pd.DataFrame
    node_offsets: np.ndarray
    node_id: np.ndarray
    lon: np.ndarray
    lat: np.ndarray
    source: str

    @property
    def n_ways(self) -> int:
        return int(self.way_id.shape[0])


def _check_file(path: Path) -> None:
    if not path.exists():
        raise InputFileError(f"OSM file {str(path)!r} does not exist; give the path of an OpenStreetMap .pbf extract")
    if path.stat().st_size == 0:
        raise InputFileError(f"OSM file {str(path)!r} is empty; download the extract again")


def read_highways(path, *, progress: bool = False) -> DecodedWays:
    """Read every way with a ``highway`` tag and the locations of its nodes.

    Raises :class:`~access._errors.InputFileError` on a missing, truncated or non-OSM file.
    """
    import osmium

    path = Path(path)
    _check_file(path)
    # typed buffers (8 bytes a value) instead of Python lists (~36 bytes a value), and each distinct tag row kept
    # once (ways share few distinct rows): the decoding's memory is what bounds a region-size build
    way_ids = array("q")
    row_of_way = array("i")
    rows: dict[tuple, int] = {}
    offsets = array("q", [0])
    refs = array("q")
    lons = array("d")
    lats = array("d")
    missing = [0]

    class _H(osmium.SimpleHandler):
        def way(self, w):
            tags = w.tags
            if "highway" not in tags:
                return
            # a way cut by the extract's boundary keeps its pieces that have node locations
            pieces = []
            cur = []
            cut = False
            for n in w.nodes:
                loc = n.location
                if loc.valid():
                    cur.append((n.ref, loc.lon, loc.lat))
                else:
                    cut = True
                    if len(cur) >= 2:
                        pieces.append(cur)
                    cur = []
            if len(cur) >= 2:
                pieces.append(cur)
            if cut:
                missing[0] += 1
            if not pieces:
                return
            row = tuple(tags.get(k, "") for k in WAY_TAGS)
            rid = rows.setdefault(row, len(rows))
            for pts in pieces:
                way_ids.append(w.id)
                row_of_way.append(rid)
                for r, x, y in pts:
                    refs.append(r)
                    lons.append(x)
                    lats.append(y)
                offsets.append(len(refs))

    try:
        _H().apply_file(str(path), locations=True, idx="flex_mem")
    except RuntimeError as e:  # libosmium errors: truncated file, not OSM, bad compression...
        raise InputFileError(
            f"cannot read OSM file {str(path)!r}: {e}. Is it a complete OpenStreetMap .pbf/.osm file? "
            "A truncated download gives this error: download it again."
        ) from e
    if not way_ids and path.suffix.lower() not in (".pbf", ".osm", ".bz2", ".gz", ".o5m", ".opl"):
        raise InputFileError(f"{str(path)!r} holds no OpenStreetMap ways; is it an OSM file?")
    distinct = pd.DataFrame(list(rows), columns=list(WAY_TAGS), dtype=object)
    tags = distinct.iloc[np.asarray(row_of_way, dtype=np.int64)].reset_index(drop=True)
    if missing[0]:
        import warnings

        from .._errors import AccessWarning

        warnings.warn(
            f"{missing[0]} ways of {str(path)!r} reference nodes missing from the file; only their pieces "
            "with known node locations were kept (an extract cut with a bounding box does this; "
            "use a complete-ways extract to avoid it)",
            AccessWarning,
            stacklevel=2,
        )
    return DecodedWays(
        way_id=np.array(way_ids, dtype=np.int64),
        tags=tags,
        node_offsets=np.array(offsets, dtype=np.int64),
        node_id=np.array(refs, dtype=np.int64),
        lon=np.array(lons, dtype=np.float64),
        lat=np.array(lats, dtype=np.float64),
        source=str(path),
    )

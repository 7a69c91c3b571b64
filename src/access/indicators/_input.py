"""Input handling for the accessibility measures: travel matrices read in chunks, id spaces, land use checks.

Nothing here computes a measure. The public measures (``access.indicators.measures``) describe which side of
the matrix (``from_id`` or ``to_id``) carries which land-use attribute; this module turns each chunk of the
matrix into contiguous integer codes for those sides, a float64 travel cost and a group code.

Id spaces
---------
* :class:`LandUseSpace`: the side whose attributes come from ``land_use_data`` (opportunities, demand, a
  category). Codes are the row numbers of ``land_use_data``; an id that the land use table lacks is an error.
* :class:`DynamicSpace`: the output side of an active/passive measure when no land-use attribute is needed there
  (as in the R package, an origin of an active measure need not be in ``land_use_data``). Codes are assigned in
  order of first appearance.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from .._errors import InputFileError, ValidationError
from .._units import minutes

#: rows per chunk when streaming a matrix (Parquet batches or DataFrame slices)
DEFAULT_CHUNK_ROWS = 1 << 21


# ----------------------------------------------------------------------------------------------------------------
# id spaces
# ----------------------------------------------------------------------------------------------------------------
def _ids_to_numpy(arr) -> np.ndarray:
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    if isinstance(arr, pa.Array):
        return arr.to_numpy(zero_copy_only=False)
    return np.asarray(arr)


class LandUseSpace:
    """Codes = row numbers of the land use table; ids absent from it raise :class:`ValidationError`."""

    def __init__(self, ids: pd.Series | np.ndarray, *, what: str, column: str):
        self.ids = pd.Index(np.asarray(ids))
        self.n = len(self.ids)
        self.what = what  # e.g. "to_id"
        self.column = column  # attribute looked up, for the message
        self._lut = None
        if self.n and self.ids.dtype.kind in "iu":
            lo, hi = int(self.ids.min()), int(self.ids.max())
            if lo >= 0 and hi < 50_000_000:
                lut = np.full(hi + 1, -1, dtype=np.int32)
                lut[self.ids.to_numpy()] = np.arange(self.n, dtype=np.int32)
                self._lut = lut

    def _lookup(self, values: np.ndarray) -> np.ndarray:
        if self._lut is not None and values.dtype.kind in "iu":
            from ._kernels import lut_lookup

            return lut_lookup(np.ascontiguousarray(values), self._lut)
        if self.ids.dtype.kind in "iu" and values.dtype.kind in "OUT":
            # ids read back from a text file as strings while land use has integers (or the reverse): no match
            return np.full(len(values), -1, dtype=np.int32)
        return self.ids.get_indexer(values).astype(np.int32, copy=False)

    def encode(self, arr) -> np.ndarray:
        """int32 codes of a chunk of ids (a pyarrow array, dictionary-encoded or not, or a numpy array)."""
        if isinstance(arr, pa.ChunkedArray):
            arr = arr.combine_chunks()
        if isinstance(arr, pa.DictionaryArray):
            dict_codes = self._lookup(_ids_to_numpy(arr.dictionary))
            idx = arr.indices.to_numpy(zero_copy_only=False)
            codes = dict_codes[idx]
            raw = None
        else:
            raw = _ids_to_numpy(arr)
            codes = self._lookup(raw)
        bad = codes < 0
        if bad.any():
            if raw is None:
                raw = _ids_to_numpy(arr.cast(arr.type.value_type) if isinstance(arr, pa.DictionaryArray) else arr)
            missing = pd.unique(raw[bad])
            ex = ", ".join(repr(x) for x in np.asarray(missing[:5]).tolist())
            msg = (
                f"travel matrix column `{self.what}` has {len(missing)} id(s) absent from `land_use_data['id']` "
                f"(needed for column {self.column!r}), e.g. {ex}; add them to the land use table (with 0 "
                f"opportunities/demand) or drop those pairs from the matrix"
            )
            raise ValidationError(msg)
        return codes

    def values(self) -> np.ndarray:
        return self.ids.to_numpy()


class DynamicSpace:
    """Codes assigned to ids in order of first appearance (for an output side that needs no land-use column)."""

    def __init__(self):
        self._map: dict = {}
        self._values: list = []

    @property
    def n(self) -> int:
        return len(self._values)

    def _codes_of_uniques(self, uniques: np.ndarray) -> np.ndarray:
        out = np.empty(len(uniques), dtype=np.int32)
        m = self._map
        for i, u in enumerate(uniques.tolist()):
            c = m.get(u)
            if c is None:
                c = len(self._values)
                m[u] = c
                self._values.append(u)
            out[i] = c
        return out

    def encode(self, arr) -> np.ndarray:
        if isinstance(arr, pa.ChunkedArray):
            arr = arr.combine_chunks()
        if isinstance(arr, pa.DictionaryArray):
            dict_codes = self._codes_of_uniques(_ids_to_numpy(arr.dictionary))
            return dict_codes[arr.indices.to_numpy(zero_copy_only=False)]
        raw = _ids_to_numpy(arr)
        codes, uniques = pd.factorize(raw, use_na_sentinel=False)
        return self._codes_of_uniques(np.asarray(uniques))[codes]

    def values(self) -> np.ndarray:
        vals = self._values
        try:
            return np.asarray(vals)
        except (ValueError, TypeError):  # pragma: no cover - mixed types
            return np.asarray(vals, dtype=object)


class GroupSpace(DynamicSpace):
    """Codes of group keys (tuples of the ``group_by`` values of a pair)."""

    def __init__(self, names: Sequence[str]):
        super().__init__()
        self.names = list(names)

    def encode_columns(self, cols: list[np.ndarray]) -> np.ndarray:
        if len(cols) == 1:
            codes, uniques = pd.factorize(cols[0], use_na_sentinel=False)
            keys = np.empty(len(uniques), dtype=object)
            keys[:] = [(u,) for u in np.asarray(uniques).tolist()]
        else:
            mi = pd.MultiIndex.from_arrays(cols)
            codes, uniques = pd.factorize(mi)  # type: ignore[assignment]  # uniques: an Index here, an array above
            keys = np.empty(len(uniques), dtype=object)
            keys[:] = list(uniques)
        return self._codes_of_uniques(keys)[codes] if len(keys) else np.zeros(0, dtype=np.int32)

    def n_or_one(self) -> int:
        return max(self.n, 1)


# ----------------------------------------------------------------------------------------------------------------
# the matrix source
# ----------------------------------------------------------------------------------------------------------------
def partition_files(folder: Path) -> list[Path]:
    """The ``part-*.parquet`` files of a partitioned matrix folder (``access matrix --chunk-size/--memory-budget``),
    in order; an error naming the folder when it holds none or when its run is incomplete."""
    import json

    parts = sorted(folder.glob("part-*.parquet"))
    if not parts:
        raise InputFileError(f"travel matrix folder {str(folder)!r} holds no part-*.parquet file; give a Parquet file "
                             "or a folder written by `access matrix --chunk-size N` (or --memory-budget)")
    man = folder / "_manifest.json"
    if man.exists():
        try:
            m = json.loads(man.read_text())
            n = -(-int(m["inputs"]["n_origins"]) // max(1, int(m["settings"]["chunk_size"])))
        except (ValueError, TypeError, KeyError, AttributeError):
            n = len(parts)
        if len(parts) < n:
            raise InputFileError(f"travel matrix folder {str(folder)!r} holds {len(parts)} of its {n} partitions (an "
                                 "interrupted run); run the same `access matrix` command again to finish it")
    return parts


class MatrixSource:
    """A travel matrix that can be read several times, chunk by chunk.

    Accepts a pandas DataFrame, an object with ``.to_frame()`` (``TravelTimeMatrix``), a Parquet file path or a
    folder of ``part-*.parquet`` partitions (as written by ``access matrix --chunk-size``).
    """

    def __init__(self, travel_matrix, *, chunk_rows: int = DEFAULT_CHUNK_ROWS):
        self.chunk_rows = int(chunk_rows)
        self.path: Path | None = None
        self.frame: pd.DataFrame | None = None
        self.ttm = None
        if isinstance(travel_matrix, (str, os.PathLike)):
            p = Path(travel_matrix)
            if not p.exists():
                raise InputFileError(f"travel matrix file {str(p)!r} does not exist; give a Parquet file written "
                                     "by `access matrix` or `TravelTimeMatrix.to_parquet`")
            self.parts = partition_files(p) if p.is_dir() else [p]
            try:
                self._pf_schema = pq.read_schema(self.parts[0])
            except Exception as e:  # pyarrow raises several types
                raise InputFileError(f"travel matrix file {str(self.parts[0])!r} is not a readable Parquet file "
                                     f"({e}); write it with pandas.DataFrame.to_parquet or `access matrix`") from e
            self.path = p
            self.columns = list(self._pf_schema.names)
        elif isinstance(travel_matrix, pd.DataFrame):
            self.frame = travel_matrix
            self.columns = [str(c) for c in travel_matrix.columns]
        elif all(hasattr(travel_matrix, a) for a in ("times_s", "from_ids", "to_ids", "percentiles")):
            # a TravelTimeMatrix: streamed by origin batches straight from its int32 seconds array
            self.ttm = travel_matrix
            pcts = list(np.atleast_1d(travel_matrix.percentiles))
            names = ["travel_time"] if len(pcts) == 1 else [f"travel_time_p{int(p)}" for p in pcts]
            self._ttm_cols = dict(zip(names, range(len(names))))
            self.columns = ["from_id", "to_id", *names]
        elif hasattr(travel_matrix, "to_frame"):
            self.frame = travel_matrix.to_frame()
            self.columns = [str(c) for c in self.frame.columns]
        else:
            raise ValidationError(
                f"`travel_matrix` must be a pandas DataFrame, a TravelTimeMatrix or a Parquet path, not "
                f"{type(travel_matrix).__name__}"
            )
        for c in ("from_id", "to_id"):
            if c not in self.columns:
                raise ValidationError(
                    f"`travel_matrix` has no column {c!r} (columns: {self.columns}); a long matrix needs "
                    "`from_id, to_id, travel_time` (minutes)"
                )

    def describe(self) -> str:
        return str(self.path) if self.path is not None else "travel_matrix"

    def resolve_cost(self, travel_cost: str | None) -> str:
        """Return the cost column, choosing the only ``travel_time_p*`` column when ``travel_time`` is absent."""
        if travel_cost is None:
            travel_cost = "travel_time"
        if travel_cost in self.columns:
            return travel_cost
        pct = [c for c in self.columns if c.startswith(f"{travel_cost}_p")]
        if travel_cost == "travel_time" and len(pct) == 1:
            return pct[0]
        hint = f" (percentile columns: {pct}; pass e.g. travel_cost={pct[0]!r})" if pct else ""
        raise ValidationError(
            f"`travel_matrix` ({self.describe()}) has no travel cost column {travel_cost!r}{hint}; "
            f"columns are {self.columns}"
        )

    def iter_columns(self, columns: Sequence[str]) -> Iterator[dict[str, object]]:
        """Yield dicts ``column -> array`` (pyarrow arrays for Parquet, numpy/pandas for frames)."""
        columns = list(dict.fromkeys(columns))
        if self.ttm is not None:
            yield from self._iter_ttm(columns)
            return
        if self.frame is not None:
            n = len(self.frame)
            for start in range(0, max(n, 1), self.chunk_rows):
                stop = min(start + self.chunk_rows, n)
                out = {}
                for c in columns:
                    if c in ("from_id", "to_id") and self.frame[c].dtype.kind not in "iu":
                        codes, uniques = self._factorized(c)
                        out[c] = pa.DictionaryArray.from_arrays(pa.array(codes[start:stop]), uniques)
                    else:
                        out[c] = self.frame[c].to_numpy()[start:stop]
                yield out
            return
        schema = self._pf_schema
        dict_cols = [c for c in columns if c in ("from_id", "to_id")
                     and (pa.types.is_string(schema.field(c).type) or pa.types.is_large_string(schema.field(c).type))]
        empty = True
        for part in self.parts:  # one file, or the partitions of a folder written by `access matrix --chunk-size`
            pf = pq.ParquetFile(part, read_dictionary=dict_cols or None)
            if pf.metadata.num_rows == 0:
                continue
            missing = [c for c in columns if c not in pf.schema_arrow.names]
            if missing:
                raise InputFileError(f"travel matrix partition {str(part)!r} has no column(s) {missing} (columns: "
                                     f"{pf.schema_arrow.names}); every partition must come from one run")
            for batch in pf.iter_batches(batch_size=self.chunk_rows, columns=columns):
                empty = False
                yield {c: batch.column(c) for c in columns}
        if empty:
            yield {c: np.zeros(0) for c in columns}

    def _iter_ttm(self, columns):
        ttm = self.ttm
        times = ttm.times_s
        n_o, n_d = times.shape[0], times.shape[1]
        from_ids = np.asarray(ttm.from_ids)
        to_dict = pa.array(np.asarray(ttm.to_ids).tolist())
        per = max(1, self.chunk_rows // max(n_d, 1))
        to_idx = pa.array(np.tile(np.arange(n_d, dtype=np.int32), min(per, max(n_o, 1))))
        for o0 in range(0, n_o, per):
            o1 = min(n_o, o0 + per)
            k = o1 - o0
            out = {}
            for c in columns:
                if c == "from_id":
                    out[c] = pa.DictionaryArray.from_arrays(
                        pa.array(np.repeat(np.arange(k, dtype=np.int32), n_d)), pa.array(from_ids[o0:o1].tolist()))
                elif c == "to_id":
                    out[c] = pa.DictionaryArray.from_arrays(to_idx.slice(0, k * n_d), to_dict)
                elif c in self._ttm_cols:
                    sec = np.asarray(times[o0:o1, :, self._ttm_cols[c]]).reshape(-1)
                    out[c] = minutes(sec)
                else:
                    raise ValidationError(f"the TravelTimeMatrix has no column {c!r}; columns are {self.columns}")
            yield out

    def _factorized(self, column: str):
        """Codes and uniques of a non-integer id column of an in-memory frame, computed once (then reused)."""
        cache = self.__dict__.setdefault("_fact_cache", {})
        if column not in cache:
            assert self.frame is not None  # (only called for in-memory frames)
            codes, uniques = pd.factorize(self.frame[column], use_na_sentinel=True)
            if (codes < 0).any():
                raise ValidationError(f"`travel_matrix[{column!r}]` has {int((codes < 0).sum())} missing ids")
            cache[column] = (codes.astype(np.int32, copy=False), pa.array(np.asarray(uniques, dtype=object)))
        return cache[column]

    def max_of(self, column: str) -> float:
        """Largest non-NaN value of a numeric column (NaN when empty)."""
        best = -np.inf
        for ch in self.iter_columns([column]):
            v = _cost_array(ch[column])
            v = v[~np.isnan(v)]
            if len(v):
                best = max(best, float(v.max()))
        return best if np.isfinite(best) else np.nan


def _cost_array(col) -> np.ndarray:
    if isinstance(col, (pa.Array, pa.ChunkedArray)):
        if isinstance(col, pa.ChunkedArray):
            col = col.combine_chunks()
        return col.to_numpy(zero_copy_only=False).astype(np.float64, copy=False)
    return np.asarray(col, dtype=np.float64)


# ----------------------------------------------------------------------------------------------------------------
# land use checks
# ----------------------------------------------------------------------------------------------------------------
def check_land_use(land_use_data, columns: Sequence[str], *, nonnegative: Sequence[str] = ()) -> pd.DataFrame:
    """Validate ``land_use_data``: an ``id`` column without duplicates, the given columns present and numeric."""
    if not isinstance(land_use_data, pd.DataFrame):
        raise ValidationError(f"`land_use_data` must be a pandas DataFrame, not {type(land_use_data).__name__}")
    if "id" not in land_use_data.columns:
        raise ValidationError(f"`land_use_data` has no 'id' column (columns: {list(land_use_data.columns)})")
    for c in columns:
        if c not in land_use_data.columns:
            raise ValidationError(
                f"`land_use_data` has no column {c!r} (columns: {list(land_use_data.columns)}); "
                "pass an existing column name or add it"
            )
    ids = land_use_data["id"]
    if ids.isna().any():
        raise ValidationError(f"`land_use_data['id']` has {int(ids.isna().sum())} missing id(s); drop those rows")
    dup = ids[ids.duplicated()]
    if len(dup):
        raise ValidationError(f"`land_use_data['id']` has {len(dup)} duplicate id(s), e.g. {dup.tolist()[0]!r}")
    for c in nonnegative:
        v = pd.to_numeric(land_use_data[c], errors="coerce")
        if v.isna().any():
            row = int(np.flatnonzero(v.isna().to_numpy())[0])
            raise ValidationError(
                f"`land_use_data[{c!r}]` has {int(v.isna().sum())} NaN or non-numeric value(s), first at id "
                f"{ids.tolist()[row]!r}; fill them (e.g. 0) or drop those rows"
            )
        if (v < 0).any():
            row = int(np.flatnonzero((v < 0).to_numpy())[0])
            raise ValidationError(
                f"`land_use_data[{c!r}]` has {int((v < 0).sum())} negative value(s), first {v.iloc[row]} at id "
                f"{ids.tolist()[row]!r}; counts of opportunities and people must be >= 0"
            )
    return land_use_data


@dataclass
class Chunk:
    """One chunk of a matrix as codes: ``fi``/``ti`` int32 codes, ``cost`` float64 minutes, ``g`` int64 group code."""

    fi: np.ndarray
    ti: np.ndarray
    cost: np.ndarray
    g: np.ndarray


# ----------------------------------------------------------------------------------------------------------------
# whole-matrix checks (``access indicators`` runs them before computing)
# ----------------------------------------------------------------------------------------------------------------
def _codes_in(col, index: pd.Index) -> np.ndarray:
    """Positions of a chunk's ids in ``index`` (ids compared as strings; -1 where absent)."""
    if isinstance(col, pa.ChunkedArray):
        col = col.combine_chunks()
    if isinstance(col, pa.DictionaryArray):
        dict_pos = index.get_indexer(pd.Index([str(v) for v in col.dictionary.to_pylist()]))
        idx = col.indices.to_numpy(zero_copy_only=False)
        return dict_pos[idx]
    vals = col.to_pylist() if isinstance(col, pa.Array) else list(np.asarray(col))
    return index.get_indexer(pd.Index([str(v) for v in vals]))


#: memory for the duplicate-pair check across chunks (a seen-bitmap of origins x destinations, in blocks of origins)
DUPLICATE_CHECK_BYTES = 256 << 20


def check_matrix_ids(travel_matrix, origin_ids, destination_ids, *, matrix_name: str = "travel matrix",
                     origins_name: str = "origins", destinations_name: str = "destinations",
                     chunk_rows: int = DEFAULT_CHUNK_ROWS, max_bytes: int = DUPLICATE_CHECK_BYTES) -> dict:
    """Refuse a matrix that is empty, whose ids match none of the origins (or destinations), or that repeats a pair.

    Ids are compared as strings (a CSV's ``"01001"`` and a Parquet's ``"01001"`` match; ``1001`` does not).

    The repeated-pair check is memory-bounded whatever the matrix size: each chunk (``chunk_rows`` rows) is checked
    on its own, and across chunks with a seen-bitmap of origins x destinations when it fits in ``max_bytes``;
    otherwise an origin seen in several chunks (a Parquet batch boundary, or partitions that overlap) is checked in
    a second pass with such a bitmap, block of origins by block. Nothing proportional to the number of pairs is
    kept.

    Returns
    -------
    dict
        ``rows``, ``unknown_from`` and ``unknown_to`` (rows whose ids are not among the points).

    Raises
    ------
    ValidationError
        Naming the matrix, the ids or the repeated pair, and the fix.
    """
    src = MatrixSource(travel_matrix, chunk_rows=chunk_rows)
    o_index = pd.Index([str(v) for v in np.asarray(origin_ids, dtype=object)])
    d_index = pd.Index([str(v) for v in np.asarray(destination_ids, dtype=object)])
    n_o, n_d = len(o_index), len(d_index)
    n_rows = unknown_from = unknown_to = 0
    first_from = first_to = None
    where = f"{matrix_name} ({src.describe()})"
    last_chunk = np.full(n_o, -1, np.int64)  # the last chunk where each origin was seen
    split = np.zeros(n_o, bool)  # origins seen in more than one chunk: their pairs need the second pass
    chunk_origins: list[np.ndarray] = []  # per chunk, its distinct origins (the second pass skips the others)
    # when origins x destinations fit the budget, one seen-bitmap answers in this pass (no second pass)
    # (per pair of ids, the row that holds it: -1 before; 4 bytes each)
    dense = np.full(n_o * n_d, -1, np.int32) if 0 < 4 * n_o * n_d <= max_bytes else None
    for c, ch in enumerate(src.iter_columns(["from_id", "to_id"])):
        fo = _codes_in(ch["from_id"], o_index)
        to = _codes_in(ch["to_id"], d_index)
        n_rows += len(fo)
        if first_from is None and len(fo):
            f0: Any = ch["from_id"]
            t0: Any = ch["to_id"]
            first_from = f0[0].as_py() if isinstance(f0, (pa.Array, pa.ChunkedArray)) else f0[0]
            first_to = t0[0].as_py() if isinstance(t0, (pa.Array, pa.ChunkedArray)) else t0[0]
        unknown_from += int((fo < 0).sum())
        unknown_to += int((to < 0).sum())
        ok = (fo >= 0) & (to >= 0)
        fo, to = fo[ok].astype(np.int64), to[ok].astype(np.int64)
        if dense is not None:
            flat = fo * n_d + to
            hit = dense[flat] >= 0  # written by an earlier chunk
            if hit.any():
                i = int(np.flatnonzero(hit)[0])
                _raise_repeat(int(fo[i]), int(to[i]), None, o_index, d_index, where)
            rows = np.arange(len(flat), dtype=np.int32)
            dense[flat] = rows
            again = dense[flat] != rows  # twice in this chunk: the later row overwrote the earlier one
            if again.any():
                i = int(np.flatnonzero(again)[0])
                n_dup = len(np.unique(flat[again]))
                _raise_repeat(int(fo[i]), int(to[i]), n_dup, o_index, d_index, where)
            continue
        _raise_on_repeat(fo * (n_d + 1) + to, n_d, o_index, d_index, where)  # within the chunk
        u = np.unique(fo)
        seen_before = last_chunk[u] >= 0
        split[u[seen_before]] = True
        last_chunk[u] = c
        chunk_origins.append(u.astype(np.int32))
    first_from = first_from.item() if isinstance(first_from, np.generic) else first_from
    first_to = first_to.item() if isinstance(first_to, np.generic) else first_to
    if n_rows == 0:
        raise ValidationError(f"{where} is empty (no rows); compute it again with `access matrix` (is every pair "
                              "unreachable and written with --drop-unreachable?)")
    if unknown_from == n_rows:
        raise ValidationError(f"{where}: none of its from_id values matches an id of the {origins_name} (e.g. "
                              f"{first_from!r}; the {origins_name} have e.g. {o_index[0]!r}); give the matrix computed "
                              f"for these {origins_name}, or the {origins_name} it was computed for")
    if unknown_to == n_rows:
        raise ValidationError(f"{where}: none of its to_id values matches an id of the {destinations_name} (e.g. "
                              f"{first_to!r}; the {destinations_name} have e.g. {d_index[0]!r}); give the matrix "
                              f"computed for these {destinations_name}")
    if split.any():  # pairs of an origin spread over several chunks: a seen-bitmap per block of those origins
        origins = np.flatnonzero(split)
        per_block = max(1, int(max_bytes) // max(n_d, 1))
        slot = np.full(n_o, -1, np.int64)
        for b0 in range(0, len(origins), per_block):
            block = origins[b0:b0 + per_block]
            slot[:] = -1
            slot[block] = np.arange(len(block))
            seen = np.zeros(len(block) * n_d, bool)
            for c, ch in enumerate(src.iter_columns(["from_id", "to_id"])):
                if not (slot[chunk_origins[c]] >= 0).any():  # no origin of this block in this chunk
                    continue
                fo = _codes_in(ch["from_id"], o_index)
                sel = fo >= 0
                sel[sel] = slot[fo[sel]] >= 0
                if not sel.any():
                    continue
                to = _codes_in(ch["to_id"], d_index)
                sel &= to >= 0
                fo, to = fo[sel].astype(np.int64), to[sel].astype(np.int64)
                flat = slot[fo] * n_d + to
                hit = seen[flat]
                if hit.any():
                    i = int(np.flatnonzero(hit)[0])
                    _raise_repeat(int(fo[i]), int(to[i]), None, o_index, d_index, where)
                seen[flat] = True
    return {"rows": n_rows, "unknown_from": unknown_from, "unknown_to": unknown_to}


def _raise_on_repeat(keys: np.ndarray, n_d: int, o_index: pd.Index, d_index: pd.Index, where: str) -> None:
    """Raise when a chunk's pair keys (``from * (n_d + 1) + to``) repeat one."""
    if len(keys) < 2:
        return
    k = np.sort(keys)
    dup = np.flatnonzero(k[1:] == k[:-1])
    if len(dup):
        o_i, d_i = divmod(int(k[dup[0]]), n_d + 1)
        _raise_repeat(o_i, d_i, int(len(np.unique(k[dup]))), o_index, d_index, where)


def _raise_repeat(o_i: int, d_i: int, n_dup: int | None, o_index: pd.Index, d_index: pd.Index, where: str) -> None:
    count = f" ({n_dup} repeated pair(s))" if n_dup is not None else " (in two chunks/partitions of the matrix)"
    raise ValidationError(f"{where}: the pair (from_id {o_index[o_i]!r}, to_id {d_index[d_i]!r}) appears more than "
                          f"once{count}; its venues would be counted twice: keep one row per pair (e.g. "
                          "drop_duplicates(['from_id', 'to_id']))")

"""Sparse storage of a state's travel times: only the (cell, venue) pairs within the state's max time.

:class:`Catchments` keeps the pairs twice:

* **by venue**: one slot per venue (the state's column index), each the venue's *catchment*, ``cells`` int32
  (ascending) and ``times`` (seconds; ``uint16`` when the max time fits, else ``int32``). After a build the slots
  are views into one by-venue CSR (``ptr``, ``cells``, ``times``); an added venue appends a slot, a street edit
  replaces slots (arrays are never changed in place, so a copy of the state shares them safely);
* **by cell**: a CSR (``ptr`` int64[n_cells + 1], ``venue`` slot (``uint16`` up to 65,536 slots, else ``int32``),
  ``times``) over the slots ``0..n_csr-1``, the
  venues of each cell in ascending slot order. Slots added later (``n_csr..``) are read from their by-venue
  arrays until there are :data:`REBUILD_AFTER` of them; then the by-cell CSR is rebuilt (a counting sort, O(pairs)).

Adding or removing a venue reads and writes only its catchment (and, to find the new nearest of the cells whose
nearest it was, those cells' rows of the by-cell CSR). Nothing here is a cells x venues array.
"""

from __future__ import annotations

import numpy as np

from ..core import incremental as inc

REBUILD_AFTER = 64  # slots outside the by-cell CSR before it is rebuilt


def time_dtype(max_time_s: int) -> np.dtype:
    """``uint16`` seconds when every stored time fits (max time under 18.2 h), else ``int32``."""
    return np.dtype(np.uint16) if int(max_time_s) <= np.iinfo(np.uint16).max else np.dtype(np.int32)


def sparsify(col: np.ndarray, dtype) -> tuple[np.ndarray, np.ndarray]:
    """(cells int32 ascending, times) of the reachable entries (``>= 0``) of a dense int32 column."""
    col = np.asarray(col)
    cells = np.flatnonzero(col >= 0).astype(np.int32)
    return cells, col[cells].astype(dtype)


class Catchments:
    """The pairs within a state's max time, by venue and by cell (see the module's docstring)."""

    def __init__(self, n_cells: int, dtype, cells: list, times: list, ptr=None, flat_cells=None, flat_times=None):
        self.n_cells = int(n_cells)
        self.dtype = np.dtype(dtype)
        self.cells = cells  # list: slot -> int32[q]
        self.times = times  # list: slot -> dtype[q]
        self._flat = (ptr, flat_cells, flat_times) if ptr is not None else None
        self.n_csr = 0
        #: (ptr int64[n_cells + 1], venue int32[nnz], times[nnz]) over slots < n_csr
        self.by_cell: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None

    # ------------------------------------------------------------------ building
    @classmethod
    def from_chunks(cls, n_cells: int, dtype, chunks) -> Catchments:
        """From an iterable of dense int32 column blocks [n_cells, b] (-1 unreachable), one block in memory at a
        time: the by-venue CSR, its per-slot views, and the by-cell CSR."""
        def parts():
            for block in chunks:
                rows = np.ascontiguousarray(np.asarray(block, np.int32).T)
                rows[rows < 0] = inc.INF
                yield inc.rows_to_csr(rows, np.empty(0, dtype))
        return cls.from_parts(n_cells, dtype, parts())

    @classmethod
    def from_parts(cls, n_cells: int, dtype, parts) -> Catchments:
        """From an iterable of by-venue CSR parts ``(counts int64[b], cells int32, times)`` (the venues in order,
        cells ascending within a venue; :func:`access.core.incremental.rows_to_csr`): the by-venue CSR, its
        per-slot views, and the by-cell CSR."""
        counts, cparts, tparts = [], [], []
        for cnt, c, t in parts:
            counts.append(np.asarray(cnt, np.int64))
            cparts.append(np.asarray(c, np.int32))
            tparts.append(np.asarray(t, dtype))
        cnt = np.concatenate(counts) if counts else np.zeros(0, np.int64)
        ptr = np.zeros(len(cnt) + 1, np.int64)
        np.cumsum(cnt, out=ptr[1:])
        fc = np.concatenate(cparts) if cparts else np.zeros(0, np.int32)
        ft = np.concatenate(tparts) if tparts else np.zeros(0, dtype)
        del cparts, tparts
        views_c = [fc[ptr[j]:ptr[j + 1]] for j in range(len(cnt))]
        views_t = [ft[ptr[j]:ptr[j + 1]] for j in range(len(cnt))]
        out = cls(n_cells, dtype, views_c, views_t, ptr, fc, ft)
        out.rebuild_by_cell()
        return out

    @classmethod
    def from_dense(cls, times_s: np.ndarray, dtype) -> Catchments:
        """From a dense int32[n_cells, k] matrix (-1 unreachable)."""
        return cls.from_chunks(times_s.shape[0], dtype, [times_s])

    def copy(self) -> Catchments:
        """A copy sharing the (never modified) arrays."""
        new = object.__new__(Catchments)
        new.__dict__.update(self.__dict__)
        new.cells, new.times = list(self.cells), list(self.times)
        return new

    # ------------------------------------------------------------------ edits
    @property
    def n_slots(self) -> int:
        return len(self.cells)

    def append(self, cells: np.ndarray, times: np.ndarray) -> int:
        """A new slot (an added venue); returns its index."""
        self.cells.append(np.ascontiguousarray(cells, np.int32))
        self.times.append(np.ascontiguousarray(times, self.dtype))
        return len(self.cells) - 1

    def set_column(self, j: int, col: np.ndarray) -> None:
        """Replace slot ``j`` by a dense column's reachable entries (the by-cell CSR is then rebuilt on demand)."""
        self.cells[j], self.times[j] = sparsify(col, self.dtype)
        self._stale()

    def set_block(self, rows: np.ndarray, slots: np.ndarray, block: np.ndarray) -> None:
        """Set the entries (rows x slots) to the dense int32 ``block`` [len(rows), len(slots)] (-1 unreachable)."""
        rows = np.asarray(rows, np.int32)
        for q, j in enumerate(np.asarray(slots)):
            c, t = self.cells[j], self.times[j]
            keep = ~np.isin(c, rows, assume_unique=True)
            ok = block[:, q] >= 0
            c2 = np.concatenate([c[keep], rows[ok]])
            t2 = np.concatenate([t[keep], block[ok, q].astype(self.dtype)])
            o = np.argsort(c2, kind="stable")
            self.cells[j], self.times[j] = c2[o], t2[o]
        self._stale()

    def _stale(self) -> None:
        self._flat = None
        self.n_csr = 0
        self.by_cell = None

    # ------------------------------------------------------------------ views
    def flat(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The by-venue CSR (``ptr`` int64[n_slots + 1], ``cells`` int32, ``times``) of every slot."""
        if self._flat is not None and len(self._flat[0]) == self.n_slots + 1:
            return self._flat
        counts = np.fromiter((len(c) for c in self.cells), np.int64, self.n_slots)
        ptr = np.zeros(self.n_slots + 1, np.int64)
        np.cumsum(counts, out=ptr[1:])
        fc = np.concatenate(self.cells) if self.cells else np.zeros(0, np.int32)
        ft = np.concatenate(self.times) if self.times else np.zeros(0, self.dtype)
        return ptr, fc, ft

    def rebuild_by_cell(self) -> None:
        """Rebuild the by-cell CSR over every slot (a counting sort)."""
        ptr, fc, ft = self.flat()
        vdt = np.uint16 if self.n_slots <= np.iinfo(np.uint16).max + 1 else np.int32
        self.by_cell = inc.csr_by_cell(self.n_cells, ptr, fc, ft, np.empty(0, vdt))
        self.n_csr = self.n_slots

    def ensure_by_cell(self) -> None:
        """Rebuild the by-cell CSR when it is missing or too many slots lie outside it."""
        if self.by_cell is None or self.n_slots - self.n_csr > REBUILD_AFTER:
            self.rebuild_by_cell()

    def rows_min(self, rows: np.ndarray, keep: np.ndarray, best: np.ndarray, c: int) -> None:
        """``best[r, c]`` = the least time from cell ``r`` to a kept slot (``INF`` if none), for each r in ``rows``."""
        self.ensure_by_cell()
        assert self.by_cell is not None  # (ensure_by_cell built it)
        ptr, ven, tim = self.by_cell
        inc.csr_rows_min(ptr, ven, tim, rows, keep, best, c)
        for j in np.flatnonzero(keep[self.n_csr:self.n_slots]) + self.n_csr:
            self._lower(rows, j, best, c)

    def _lower(self, rows, j, best, c) -> None:
        cj, tj = self.cells[j], self.times[j]
        if not len(cj):
            return
        pos = np.minimum(np.searchsorted(cj, rows), len(cj) - 1)
        hit = cj[pos] == rows
        r = rows[hit]
        best[r, c] = np.minimum(best[r, c], tj[pos[hit]].astype(np.int32))

    def row_entries(self, r: int, slots_ok: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(slots ascending, times int32) of cell ``r``'s pairs with the slots where ``slots_ok``."""
        self.ensure_by_cell()
        assert self.by_cell is not None  # (ensure_by_cell built it)
        ptr, ven, tim = self.by_cell
        v, t = ven[ptr[r]:ptr[r + 1]], tim[ptr[r]:ptr[r + 1]].astype(np.int32)
        vs, ts = [v], [t]
        for j in range(self.n_csr, self.n_slots):
            cj = self.cells[j]
            p = np.searchsorted(cj, r)
            if p < len(cj) and cj[p] == r:
                vs.append(np.array([j], np.int32))
                ts.append(np.array([self.times[j][p]], np.int32))
        v, t = np.concatenate(vs), np.concatenate(ts)
        ok = slots_ok[v]
        return v[ok], t[ok]

    def dense(self, slots: np.ndarray) -> np.ndarray:
        """int32[n_cells, len(slots)] (-1 unreachable): the dense matrix of these slots."""
        out = np.full((self.n_cells, len(slots)), -1, np.int32)
        for q, j in enumerate(slots):
            out[self.cells[j], q] = self.times[j]
        return out

    @property
    def nnz(self) -> int:
        """Pairs stored (by venue)."""
        return int(sum(len(c) for c in self.cells))

    @property
    def nbytes(self) -> int:
        """Bytes held by both views (the by-venue CSR counted once even when slots are views into it)."""
        if self._flat is not None:
            b = self._flat[1].nbytes + self._flat[2].nbytes + self._flat[0].nbytes
            b += sum(c.nbytes + t.nbytes for c, t in zip(self.cells[len(self._flat[0]) - 1:],
                                                         self.times[len(self._flat[0]) - 1:]))
        else:
            b = sum(c.nbytes + t.nbytes for c, t in zip(self.cells, self.times))
        if self.by_cell is not None:
            b += sum(a.nbytes for a in self.by_cell)
        return int(b)

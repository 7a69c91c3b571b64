"""Time to the nearest destination of each group (venue category), without an origins x destinations matrix.

Streets: one multi-source search per group on the *reversed* graph, every destination of the group a source seeded
with its egress snap cost (the seconds from its nodes onto the point), so the label of a node is the time from it to
the nearest destination of the group; each origin then reads its own access nodes (plus its access snap cost), and
the point-pair rule of every street matrix (:func:`~access.routing.street.point_pair_times`: same street segment,
same place) lowers the pairs it concerns. The result is, integer for integer, the minimum over the columns of the
group in the full street matrix.

Transit: one backward range-RAPTOR per group (:func:`~access.routing.transit.transit_columns_to` with
``dest_groups``): the destinations of a group are merged into one whose egress walk from each stop and direct walk
from each origin are the shortest to any of them, so per departure minute it gives the earliest arrival at *any*
destination of the group (the traveller goes to whichever is nearest for their departure minute), then the
percentiles over the minutes (R5's nearest-rank rule). That equals the percentile of the per-minute minimum over the
group's columns of the full per-minute matrix.
"""

from __future__ import annotations

import numpy as np

from ..core import dijkstra as dj
from ..io.places import Points
from ..network.street import Snap, StreetGraph
from .street import point_pair_times

__all__ = ["street_nearest_s", "transit_nearest_s", "NO_CAP_S"]

#: the bound of an "uncapped" street search (about 34 years: no trip comes near; int32 sums cannot overflow)
NO_CAP_S = 2**30


def _group_seeds(d_snap: Snap, groups: np.ndarray, n_groups: int) -> tuple[np.ndarray, np.ndarray]:
    """Seeds int32[n_groups, s]: the egress nodes and costs of every destination of each group (-1 padding)."""
    node = np.asarray(d_snap.egress_node, np.int32)
    cost = np.asarray(d_snap.egress_cost_s, np.int32)
    ok = (node >= 0) & (cost >= 0) & np.asarray(d_snap.snapped)[:, None]
    g = np.broadcast_to(np.asarray(groups, np.int64)[:, None], node.shape)[ok]
    n_, c_ = node[ok], cost[ok]
    order = np.argsort(g, kind="stable")
    g, n_, c_ = g[order], n_[order], c_[order]
    cnt = np.bincount(g, minlength=n_groups)
    width = max(1, int(cnt.max()) if len(cnt) else 1)
    seed_node = np.full((n_groups, width), -1, np.int32)
    seed_cost = np.full((n_groups, width), -1, np.int32)
    pos = np.arange(len(g)) - np.repeat(np.cumsum(cnt) - cnt, cnt)
    seed_node[g, pos] = n_
    seed_cost[g, pos] = c_
    return seed_node, seed_cost


def street_nearest_s(graph: StreetGraph, o_snap: Snap, d_snap: Snap, groups: np.ndarray, n_groups: int,
                     max_time_s: int = NO_CAP_S, o: Points | None = None, d: Points | None = None) -> np.ndarray:
    """int32[n_o, n_groups] seconds from each origin to the nearest destination of each group (-1: none within
    ``max_time_s``), equal to the minimum over the group's columns of
    :func:`~access.routing.street.street_od_times` on the same snaps and points.

    Parameters
    ----------
    graph : StreetGraph
        The graph both snaps were made on.
    o_snap, d_snap : Snap
        Origins and destinations snapped on ``graph``.
    groups : int array
        Group (0..n_groups-1) of each destination.
    n_groups : int
        Number of groups (a group without destinations gives -1 everywhere).
    max_time_s : int
        Bound of the searches (default :data:`NO_CAP_S`, i.e. none).
    o, d : Points, optional
        The points themselves: pairs at the very same coordinates take 0 s (as the matrices).
    """
    groups = np.asarray(groups, np.int64)
    max_time_s = int(min(max_time_s, NO_CAP_S))
    rf, rh, rw = graph.csr(reverse=True)
    seed_node, seed_cost = _group_seeds(d_snap, groups, n_groups)
    # dist[g, v]: seconds from node v to the nearest destination of group g (reversed graph, INF unreached)
    dist = dj.sssp_many(rf, rh, np.asarray(rw, np.int32), seed_node, seed_cost, np.int32(max_time_s))
    an = np.asarray(o_snap.access_node)
    ac = np.asarray(o_snap.access_cost_s, np.int64)
    n_o = an.shape[0]
    best = np.full((n_o, n_groups), np.int64(dj.INF), np.int64)
    for s in range(an.shape[1]):
        ok = (an[:, s] >= 0) & (ac[:, s] >= 0) & np.asarray(o_snap.snapped)
        if not ok.any():
            continue
        lab = dist[:, an[ok, s]].T.astype(np.int64)  # [n_ok, n_groups]
        t = np.where(lab == dj.INF, np.int64(dj.INF), lab + ac[ok, s][:, None])
        best[ok] = np.minimum(best[ok], t)
    best[best > max_time_s] = dj.INF
    out = best.astype(np.int32)
    i, j, t = point_pair_times(graph, o_snap, d_snap, max_time_s, o, d)
    if len(i):
        np.minimum.at(out, (i, groups[j]), t)
    return dj.to_public(out)


def transit_nearest_s(network, o_snap: Snap, d_snap: Snap, groups: np.ndarray, n_groups: int, *, options,
                      street, max_time_s: int, o: Points | None = None, d: Points | None = None,
                      per_minute: bool = False) -> tuple[np.ndarray, np.ndarray | None]:
    """Walk + transit: ``(int32[n_o, n_groups, n_p], per-minute int32[n_o, n_groups, n_min] or None)`` seconds to
    the nearest destination of each group (-1 unreachable within ``max_time_s``), by one backward range-RAPTOR per
    group; equal to the percentiles of the per-minute minimum over the group's columns of the full matrix.

    ``options`` and ``street`` are the :class:`~access.options.TransitOptions` and
    :class:`~access.options.StreetOptions` of the query; the snaps are on the walk graph timed at
    ``street.walk_speed_kmh``.

    What the matrix path does per destination is done here per group: the direct walks are one multi-source search
    per group (:func:`street_nearest_s` on the walk graph, bounded by the access limit: the walk any matrix row
    would take to the group's nearest destination), the egress walks from each stop the shortest to any destination
    of the group. The origins' access walks are bounded per origin by its longest direct walk over the groups
    (:func:`access.core.nearest.access_walks_bounded`): a trip through a stop farther than the direct walk to the
    nearest destination of a group is never faster than that walk, so the per-minute minimum is unchanged.
    """
    import numba

    from ..core.dijkstra import transpose_csr
    from ..core.nearest import access_walks_bounded, backward_nearest_columns, useful_access
    from .street import graph_at_speed
    from .transit import _query, _scaled

    to, so = options, street
    to.require_departure()
    if to.access_mode != "walk" or to.frequencies != "deterministic":
        from .._validate import fail

        bad = "access_mode" if to.access_mode != "walk" else "frequencies"
        raise fail(f"transit.{bad}", "the default (walk access, deterministic schedules) for nearest_times",
                   getattr(to, bad), "use travel_time_matrix(..., per_minute=True) and take the minimum per "
                   "category for bike/car access or Monte-Carlo frequencies")
    q = _query(network, o_snap, d_snap, to, so, int(max_time_s), o, d, egress=False)
    groups = np.asarray(groups, np.int64)
    n_g = int(n_groups)
    walk = network.street("walk")
    g = graph_at_speed(walk, so.walk_speed_kmh)
    # direct walks: origin -> nearest destination of each group within the access limit (pairs rules included)
    direct = street_nearest_s(g, o_snap, d_snap, groups, n_g, q.max_walk_s, o, d)  # [n_o, n_g], -1 none
    ok = direct >= 0
    gi, oi = np.nonzero(ok.T)  # by group, origins increasing
    dd_off = np.zeros(n_g + 1, np.int64)
    dd_off[1:] = np.cumsum(np.bincount(gi, minlength=n_g))
    dd_org, dd_s = oi.astype(np.int32), direct.T[gi, oi].astype(np.int32)
    # access walks, each origin bounded by its longest direct walk over the groups (the access limit where some
    # group is out of walking reach)
    bound = np.where(ok, direct, q.max_walk_s).max(axis=1) if n_g else np.full(q.n_o, -1)
    bound = np.where(np.asarray(o_snap.snapped), np.minimum(bound, q.max_walk_s), -1).astype(np.int32)
    tt = network.timetable
    f = float(walk.meta.get("speed_kmh") or 3.6) / float(so.walk_speed_kmh)
    s_en, s_ec = np.asarray(tt.arrays["stop_egress_node"]), _scaled(tt.arrays["stop_egress_cost_s"], f)
    sa_off, sa_org, sa_s = access_walks_bounded(q.fo, q.he, q.w, q.o_an, q.o_ac, bound, s_en, s_ec,
                                                2 * int(numba.get_num_threads()))
    sa_off, sa_org, sa_s = useful_access(sa_off, sa_org, sa_s, direct)
    # egress: per group and stop the shortest walk to any of its destinations (one multi-source search per group on
    # the reversed walk graph, within the egress limit), by group then increasing seconds
    max_egress_s = min(q.max_walk_s, int(round(to.egress_walk_limit_m / (so.walk_speed_kmh / 3.6))))
    rf, rh, rw = q.rev
    seed_node, seed_cost = _group_seeds(d_snap, groups, n_g)
    dist = dj.sssp_many(rf, rh, np.asarray(rw, np.int32), seed_node, seed_cost, np.int32(max_egress_s))
    s_an = np.asarray(tt.arrays["stop_access_node"])
    s_ac = _scaled(tt.arrays["stop_access_cost_s"], f).astype(np.int64)
    eg = np.full((n_g, tt.n_stops), np.int64(dj.INF), np.int64)
    for k in range(s_an.shape[1]):
        ok_k = (s_an[:, k] >= 0) & (s_ac[:, k] >= 0)
        lab = dist[:, s_an[ok_k, k]].astype(np.int64)
        eg[:, ok_k] = np.minimum(eg[:, ok_k], np.where(lab == dj.INF, np.int64(dj.INF), lab + s_ac[ok_k, k]))
    eg_g, eg_s = np.nonzero(eg <= max_egress_s)
    eg_v = eg[eg_g, eg_s]
    o_ = np.lexsort((eg_s, eg_v, eg_g))
    d_off = np.zeros(n_g + 1, np.int64)
    d_off[1:] = np.cumsum(np.bincount(eg_g, minlength=n_g))
    d_stop, d_s = eg_s[o_].astype(np.int32), eg_v[o_].astype(np.int32)
    xt_off, xt_from, xt_s, _ = transpose_csr(q.x_off, q.x_to, q.x_s)
    day = q.day
    times, pm = backward_nearest_columns(
        sa_off, sa_org, sa_s, dd_off, dd_org, dd_s, d_off, d_stop, d_s, q.dep_times, to.max_rides,
        q.max_time_s, to.kernel_slack_s, q.pct_idx, day.pat_stop_off, day.pat_stops, day.pat_board, day.pat_alight,
        day.pat_ntrips, day.pat_time_off, day.t_arr, day.t_dep, day.stop_pat_off, day.stop_pat, day.stop_pat_pos,
        xt_off, xt_from, xt_s, q.n_o, int(numba.get_num_threads()), bool(per_minute))
    return times, (pm if per_minute else None)

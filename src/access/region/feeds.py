"""Public-transport feeds of a region: TER's duplicate station stops linked, and the areas no feed serves.

SNCF's TER feeds give one station several stop ids, one per kind of service: ``StopPoint:OCETrain TER-87286005``
for the trains and ``StopPoint:OCECar TER-87286005`` for the coaches that replace or extend them (the 8-digit UIC
code is the station). :func:`link_ter_stations` writes a copy of a feed whose ``transfers.txt`` links every such
pair (``transfer_type = 2``, :data:`TER_LINK_TRANSFER_S`), so a rider can change between a train and a coach of
the same station even where the two stops are far apart or snap to different streets.

:func:`areas_without_stops` lists the areas (EPCI) with no stop of any feed: where transit is walking only.
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
from pathlib import Path

import pandas as pd

from .._errors import InputFileError
from .._io_util import atomic_path

__all__ = ["TER_LINK_TRANSFER_S", "areas_without_stops", "gtfs_stops", "link_ter_stations", "ter_station_links"]

#: minimum transfer time between a train and a coach stop of one TER station (seconds)
TER_LINK_TRANSFER_S = 120
_OCE_RE = re.compile(r"OCE(Train|Car|TramTrain|Bus)?[^0-9]*?(\d{8})$")


def gtfs_stops(path) -> pd.DataFrame:
    """``stop_id, stop_name, stop_lat, stop_lon`` of a GTFS zip (stops.txt only; rows without coordinates kept)."""
    p = Path(path)
    try:
        with zipfile.ZipFile(p) as z:
            names = {Path(n).name: n for n in z.namelist()}
            if "stops.txt" not in names:
                raise InputFileError(f"GTFS feed {str(p)!r} has no stops.txt; check the feed")
            with z.open(names["stops.txt"]) as f:
                df = pd.read_csv(f, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    except zipfile.BadZipFile:
        raise InputFileError(f"GTFS feed {str(p)!r} is not a zip archive; download it again") from None
    df.columns = [c.strip() for c in df.columns]
    for c in ("stop_id", "stop_name", "stop_lat", "stop_lon"):
        if c not in df:
            df[c] = ""
    out = df[["stop_id", "stop_name"]].copy()
    out["stop_lat"] = pd.to_numeric(df["stop_lat"], errors="coerce")
    out["stop_lon"] = pd.to_numeric(df["stop_lon"], errors="coerce")
    out["location_type"] = df.get("location_type", "")
    return out


def ter_station_links(stops: pd.DataFrame) -> pd.DataFrame:
    """Pairs of stop ids of one TER station (same UIC code, different service kind), both directions.

    Returns ``from_stop_id, to_stop_id, station`` (station = the UIC code); stations (``location_type`` 1) are
    not linked, only the stops riders board at."""
    s = stops[stops.get("location_type", pd.Series("", index=stops.index)).astype(str).isin(["", "0"])]
    m = s["stop_id"].astype(str).str.extract(_OCE_RE)
    s = s.assign(kind=m[0], uic=m[1]).dropna(subset=["uic"])
    rows = []
    for uic, g in s.groupby("uic", sort=True):
        ids = sorted(g["stop_id"].astype(str))
        if len(ids) < 2:
            continue
        for a in ids:
            for b in ids:
                if a != b:
                    rows.append((a, b, uic))
    return pd.DataFrame(rows, columns=["from_stop_id", "to_stop_id", "station"])


def link_ter_stations(src, out, *, transfer_s: int = TER_LINK_TRANSFER_S) -> tuple[Path, int]:
    """Copy the GTFS zip ``src`` to ``out`` with ``transfers.txt`` rows linking the stop ids of each TER station
    (:func:`ter_station_links`); existing transfers are kept and win. Returns (``out``, number of rows added)."""
    src, out = Path(src), Path(out)
    links = ter_station_links(gtfs_stops(src))
    with zipfile.ZipFile(src) as zin:
        names = zin.namelist()
        tname = next((n for n in names if Path(n).name == "transfers.txt"), None)
        old = None
        if tname is not None:
            with zin.open(tname) as f:
                old = pd.read_csv(f, dtype=str, keep_default_na=False, encoding="utf-8-sig")
        if old is not None and len(old):
            have = set(zip(old["from_stop_id"], old["to_stop_id"]))
            links = links[[(a, b) not in have for a, b in zip(links["from_stop_id"], links["to_stop_id"])]]
        add = pd.DataFrame({"from_stop_id": links["from_stop_id"], "to_stop_id": links["to_stop_id"],
                            "transfer_type": "2", "min_transfer_time": str(int(transfer_s))})
        merged = add if old is None else pd.concat([old, add], ignore_index=True).fillna("")
        buf = io.StringIO()
        merged.to_csv(buf, index=False, quoting=csv.QUOTE_MINIMAL, lineterminator="\n")
        with atomic_path(out, suffix=".zip") as tmp, zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as zout:
            for n in names:
                if n == tname:
                    continue
                info = zipfile.ZipInfo(n, date_time=(1980, 1, 1, 0, 0, 0))  # deterministic bytes
                info.compress_type = zipfile.ZIP_DEFLATED
                with zin.open(n) as f, zout.open(info, "w") as g:
                    while True:
                        chunk = f.read(1 << 20)
                        if not chunk:
                            break
                        g.write(chunk)
            info = zipfile.ZipInfo(tname or "transfers.txt", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            zout.writestr(info, buf.getvalue())
    return out, len(add)


def areas_without_stops(areas, stop_frames) -> list[str]:
    """Ids of the areas (polygons, EPSG:4326) that hold no stop of any of the ``stop_frames``
    (:func:`gtfs_stops` tables)."""
    import geopandas as gpd

    if not stop_frames:
        return sorted(areas["id"].astype(str))
    st = pd.concat(stop_frames, ignore_index=True).dropna(subset=["stop_lat", "stop_lon"])
    pts = gpd.GeoDataFrame(geometry=gpd.points_from_xy(st["stop_lon"].to_numpy(float),
                                                       st["stop_lat"].to_numpy(float)), crs=4326)
    hit = gpd.sjoin(pts, areas[["id", "geometry"]], how="inner", predicate="within")
    served = set(hit["id"].astype(str))
    return sorted(a for a in areas["id"].astype(str) if a not in served)

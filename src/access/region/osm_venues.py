"""Cultural venues read from OpenStreetMap tags (pyosmium), in the venue schema of :mod:`access.io.sources`.

Tags kept (``data/venue_taxonomy.csv``, ``source = osm``): ``amenity=cinema|theatre|library|arts_centre|
concert_hall|music_school`` and ``tourism=museum|gallery``. Nodes give their location; ways give the centroid of
their polygon (closed ways) or of their line; multipolygon relations give the centroid of their area. Ids are
``n<id>``, ``w<id>``, ``r<id>``. ``commune`` is ``addr:city`` when tagged (else empty).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .._errors import InputFileError
from .sources import _filter_categories, _venues, norm_name, read_taxonomy


def _category(tags, tax) -> tuple[str | None, str | None]:
    for key in ("amenity", "tourism"):
        v = tags.get(key)
        if v:
            hit = tax.get(norm_name(f"{key}={v}"))
            if hit and hit[0] != "excluded":
                return hit[0], f"{key}={v}"
    return None, None


def read_osm_venues(pbf, *, categories=None, taxonomy=None, bbox=None):
    """Read cultural venues from an OSM ``.pbf`` (or ``.osm``) file.

    Parameters
    ----------
    pbf : path-like
        OpenStreetMap extract.
    categories : list of str, optional
        Keep only these categories.
    taxonomy : path-like, optional
        Another mapping table than ``data/venue_taxonomy.csv``.
    bbox : (lon_min, lat_min, lon_max, lat_max), optional
        Keep only the venues inside this box.

    Returns
    -------
    geopandas.GeoDataFrame
        ``id, name, category, type_label, commune, geometry`` (EPSG:4326 points).

    Examples
    --------
    >>> v = read_osm_venues("nantes_subset.osm.pbf")  # doctest: +SKIP
    >>> v.category.value_counts()["library"]  # doctest: +SKIP
    14
    """
    import osmium
    import shapely
    from osmium.geom import WKBFactory

    pbf = Path(pbf)
    if not pbf.is_file():
        raise InputFileError(f"OSM file {str(pbf)!r} does not exist; run `access fetch` or fix the path")
    if pbf.stat().st_size == 0:
        raise InputFileError(f"OSM file {str(pbf)!r} is empty; download it again")
    tax = read_taxonomy("osm", taxonomy)
    wkb = WKBFactory()
    rows = []
    try:
        fp = (osmium.FileProcessor(str(pbf)).with_locations().with_areas()
              .with_filter(osmium.filter.KeyFilter("amenity", "tourism")))
        for o in fp:
            cat, label = _category(o.tags, tax)
            if cat is None:
                continue
            if o.is_node():
                if not o.location.valid():
                    continue
                lon, lat, oid = o.location.lon, o.location.lat, f"n{o.id}"
            elif o.is_way():
                pts = [(n.location.lon, n.location.lat) for n in o.nodes if n.location.valid()]
                if not pts:
                    continue
                if len(pts) >= 4 and pts[0] == pts[-1]:
                    c = shapely.Polygon(pts).centroid
                elif len(pts) >= 2:
                    c = shapely.LineString(pts).centroid
                else:
                    c = shapely.Point(pts[0])
                if c.is_empty:
                    c = shapely.Point(np.mean(pts, axis=0))
                lon, lat, oid = c.x, c.y, f"w{o.id}"
            elif o.is_area():
                if o.from_way():
                    continue  # the way itself was handled above
                try:
                    c = shapely.from_wkb(wkb.create_multipolygon(o)).centroid
                except (RuntimeError, shapely.errors.GEOSException):
                    continue
                lon, lat, oid = c.x, c.y, f"r{o.orig_id()}"
            else:
                continue
            rows.append((oid, o.tags.get("name", ""), cat, label, o.tags.get("addr:city", ""), lon, lat))
    except RuntimeError as e:
        raise InputFileError(f"OSM file {str(pbf)!r} cannot be read: {e}") from None
    if rows:
        ids, names, cats, labels, communes, lon, lat = map(list, zip(*rows))
    else:
        ids = names = cats = labels = communes = lon = lat = []
    out = _venues(ids, names, cats, labels, communes, lon, lat)
    out = out.drop_duplicates("id").reset_index(drop=True)
    return _filter_categories(out, categories, f"OSM file {str(pbf)!r}", bbox)

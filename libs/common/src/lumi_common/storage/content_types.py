"""The content type a stored file is served with, from its extension."""

from __future__ import annotations

from pathlib import PurePosixPath

DEFAULT_CONTENT_TYPE = "application/octet-stream"

_BY_SUFFIX = {
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    # OBJ and MTL are text; the clients' loaders fetch them as such
    ".obj": "text/plain; charset=utf-8",
    ".mtl": "text/plain; charset=utf-8",
    ".glb": "model/gltf-binary",
    ".gltf": "model/gltf+json",
    # printer firmware reads it as text; the x- type lets browsers and printer apps recognise it
    ".gcode": "text/x-gcode; charset=utf-8",
    ".stl": "model/stl",
}


def content_type_for(key: str) -> str:
    return _BY_SUFFIX.get(PurePosixPath(key).suffix.lower(), DEFAULT_CONTENT_TYPE)

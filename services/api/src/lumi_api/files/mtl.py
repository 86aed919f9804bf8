"""MTL files are served with absolute texture references (contract rule 10): a loader given
only the MTL's URL, or one that resolves names against the page instead of the file, still finds
the texture. Stored MTLs keep relative names, so changing `PUBLIC_BASE_URL` changes nothing."""

from __future__ import annotations

import posixpath
from collections.abc import Callable

# statements whose last argument names a texture file (options such as `-s 1 1 1` precede it)
TEXTURE_STATEMENTS = frozenset(
    {"map_ka", "map_kd", "map_ks", "map_ns", "map_d", "map_bump", "bump", "disp", "decal", "norm"}
)


def absolute_textures(mtl: str, *, key: str, url_for: Callable[[str], str | None]) -> str:
    """Rewrite each relative texture name of the MTL stored under `key` to its public URL."""
    folder = posixpath.dirname(key)
    return "".join(_rewrite(line, folder, url_for) for line in mtl.splitlines(keepends=True))


def _rewrite(line: str, folder: str, url_for: Callable[[str], str | None]) -> str:
    parts = line.split()
    if len(parts) < 2 or parts[0].lower() not in TEXTURE_STATEMENTS or "://" in parts[-1]:
        return line
    name = posixpath.normpath(posixpath.join(folder, parts[-1].replace("\\", "/")))
    if name.startswith("..") or not name.startswith(folder + "/"):
        return line  # points outside the model's folder: leave it, we serve nothing there
    url = url_for(name)
    if url is None:
        return line
    ending = line[len(line.rstrip("\r\n")) :]
    return " ".join([*parts[:-1], url]) + ending

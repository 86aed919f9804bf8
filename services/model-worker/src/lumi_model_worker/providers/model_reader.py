"""A hosted provider's model file (GLB, glTF, OBJ or a zip of OBJ + MTL + texture) read as one
textured mesh and its texture, ready for `model_files.convert`.

Provider files follow glTF's conventions (Y up); their units vary, which does not matter: the
viewer and print copies are scaled anyway. FBX and USDZ cannot be read (trimesh has no loader);
adapters ask for GLB, which every supported provider produces.
"""

from __future__ import annotations

import io
import posixpath
import zipfile

import numpy as np
import trimesh
from PIL import Image

from lumi_common.errors import PermanentError
from lumi_model_worker.providers.mesh_formats import TexturedMesh

READABLE = frozenset({"glb", "gltf", "obj", "zip"})
# longer side of a stored texture: providers send up to 4096², the apps gain nothing past this
MAX_TEXTURE_PX = 2048
_PLAIN_TEXTURE_PX = 4
MAX_UNZIPPED_BYTES = 512 * 1024 * 1024
_MAX_ENTRIES = 64  # a model, its material and a few textures; more is not a provider result
_WHITE = (255, 255, 255, 255)


def read_model(data: bytes, file_type: str) -> tuple[TexturedMesh, Image.Image]:
    kind = file_type.lower().lstrip(".")
    if kind not in READABLE:
        raise PermanentError(f"the provider's {kind.upper()} model cannot be read: ask for GLB")
    mesh = _one_mesh(_load(data, kind))
    uv, texture = _texture_of(mesh)
    textured = TexturedMesh(
        vertices=np.asarray(mesh.vertices, dtype=np.float64),
        faces=np.asarray(mesh.faces, dtype=np.int64),
        uv=np.asarray(uv, dtype=np.float64),
    )
    return textured, _flat(texture)


def _load(data: bytes, kind: str) -> trimesh.Scene:
    try:
        if kind == "zip":
            return _load_zip(data)
        return trimesh.load_scene(io.BytesIO(data), file_type=kind, process=False)
    except (zipfile.BadZipFile, StopIteration) as error:
        raise PermanentError("the provider's archive holds no OBJ or GLB model") from error
    except Exception as error:  # the parsers raise whatever they meet in a broken file
        reason = f"{type(error).__name__}: {error}"[:200]
        raise PermanentError(f"the provider's model file is damaged ({reason})") from error


def _load_zip(data: bytes) -> trimesh.Scene:
    """The first model in the archive, its MTL and textures looked up beside it (providers put
    them in a folder as often as not)."""
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        entries = archive.infolist()[:_MAX_ENTRIES]
        if sum(info.file_size for info in entries) > MAX_UNZIPPED_BYTES:
            raise PermanentError("the provider's archive unpacks to more than we accept")
        files = {info.filename: archive.read(info) for info in entries}
    name = next(n for n in sorted(files) if n.lower().endswith((".obj", ".glb", ".gltf")))
    folder = posixpath.dirname(name)
    resolver = trimesh.resolvers.ZipResolver(files, namespace=folder or None)
    kind = name.rsplit(".", 1)[-1].lower()
    return trimesh.load_scene(
        io.BytesIO(files[name]), file_type=kind, resolver=resolver, process=False
    )


def _one_mesh(scene: trimesh.Scene) -> trimesh.Trimesh:
    meshes = [g for g in scene.geometry.values() if isinstance(g, trimesh.Trimesh) and len(g.faces)]
    if not meshes:
        raise PermanentError("the provider's model file holds no triangles")
    # the scene graph's transforms applied, several parts (and textures) made one
    mesh = scene.to_mesh()
    if not isinstance(mesh, trimesh.Trimesh) or not len(mesh.faces):
        raise PermanentError("the provider's model file holds no triangles")
    return mesh


def _texture_of(mesh: trimesh.Trimesh) -> tuple[np.ndarray, Image.Image]:
    visual = mesh.visual
    if isinstance(visual, trimesh.visual.TextureVisuals) and visual.uv is not None:
        material = visual.material
        image = getattr(material, "baseColorTexture", None) or getattr(material, "image", None)
        if isinstance(image, Image.Image) and len(visual.uv) == len(mesh.vertices):
            return visual.uv, image
        colour = _colour(getattr(material, "main_color", None))
    else:
        colour = _colour(getattr(visual, "main_color", None))
    # no texture: one plain colour, every vertex mapped onto it
    plain = Image.new("RGBA", (_PLAIN_TEXTURE_PX, _PLAIN_TEXTURE_PX), colour)
    return np.full((len(mesh.vertices), 2), 0.5), plain


def _colour(value: object) -> tuple[int, int, int, int]:
    if value is None:
        return _WHITE
    rgba = [int(c) for c in np.asarray(value).ravel()[:4]]
    return (rgba[0], rgba[1], rgba[2], 255) if len(rgba) >= 3 else _WHITE


def _flat(image: Image.Image) -> Image.Image:
    """RGB on white (a texture has no transparency), the longer side at most MAX_TEXTURE_PX."""
    flat = Image.new("RGBA", image.size, _WHITE)
    flat.alpha_composite(image.convert("RGBA"))
    picture = flat.convert("RGB")
    if max(picture.size) > MAX_TEXTURE_PX:
        picture.thumbnail((MAX_TEXTURE_PX, MAX_TEXTURE_PX), Image.Resampling.LANCZOS)
    return picture

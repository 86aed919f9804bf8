"""What every finished task must serve, whichever provider made it: pictures the apps can show,
and the model as OBJ + MTL + PNG and GLB (Y up, unit-sized, centred) and a print STL in
millimetres whose size is on the model."""

from __future__ import annotations

import io
from pathlib import Path, PurePosixPath
from urllib.parse import urljoin, urlsplit

import pytest
import trimesh
from PIL import Image

from lumi_model_worker.providers.model_files import VIEWER_SIZE
from tests.support.lumi_client import Download, LumiClient, Task

IMAGE_SIDE = 1024


async def check_picture(
    client: LumiClient, url: str | None, base_url: str, *, side: int = IMAGE_SIDE
) -> None:
    assert url is not None
    assert url.startswith(base_url + "/"), url  # absolute, fetchable as is
    got = await client.download(url)
    assert got.status == 200
    assert got.headers["Access-Control-Allow-Origin"] == "*"
    assert got.content_type == "image/png"
    picture = Image.open(io.BytesIO(got.body))
    assert (picture.format, picture.size) == ("PNG", (side, side))


async def check_model_files(client: LumiClient, model: Task, folder: Path, base_url: str) -> None:
    """The five files download as the apps fetch them, the OBJ set works side by side, the
    viewer files are Y up and unit-sized, and the STL has the print size of the row."""
    expected_types = {
        "modelUrl": "text/plain",
        "mtlUrl": "text/plain",
        "textureUrl": "image/png",
        "glbUrl": "model/gltf-binary",
        "stlUrl": "model/stl",
    }
    files: dict[str, Download] = {}
    for field, content_type in expected_types.items():
        url = model[field]
        assert url
        assert url.startswith(base_url + "/"), (field, url)
        got = await client.download(url)
        assert got.status == 200, field
        assert got.headers["Access-Control-Allow-Origin"] == "*", field
        assert got.content_type.split(";")[0] == content_type, (field, got.content_type)
        files[field] = got
    assert model["fileSize"] == len(files["modelUrl"].body)

    texture_name = served_name(model["textureUrl"])
    mtl = files["mtlUrl"].body.decode()
    # served with the texture's absolute URL (contract rule 10), which is the same file as
    # its name next to the MTL; a local copy names it by that file name again
    assert f"map_Kd {model['textureUrl']}" in mtl
    assert urljoin(model["mtlUrl"], texture_name) == model["textureUrl"]
    for field in ("modelUrl", "textureUrl"):
        save(folder / served_name(model[field]), files[field].body)
    local_mtl = mtl.replace(model["textureUrl"], texture_name)
    save(folder / served_name(model["mtlUrl"]), local_mtl.encode())
    assert f"mtllib {served_name(model['mtlUrl'])}" in files["modelUrl"].body.decode()

    mesh = trimesh.load(folder / served_name(model["modelUrl"]), force="mesh")
    assert isinstance(mesh, trimesh.Trimesh)
    assert mesh.is_watertight
    assert isinstance(mesh.visual, trimesh.visual.TextureVisuals)
    assert mesh.visual.material.image is not None  # the texture was found through the MTL
    assert len(mesh.faces) == model["faceCount"]
    glb = trimesh.load(io.BytesIO(files["glbUrl"].body), file_type="glb", force="mesh")
    assert isinstance(glb, trimesh.Trimesh)
    assert len(glb.faces) == model["faceCount"]
    for viewer in (mesh, glb):  # glTF-conventional: what the fixed-camera viewer can show
        low, high = viewer.bounds
        assert max(high - low) == pytest.approx(VIEWER_SIZE, rel=1e-3)
        assert (low + high) / 2 == pytest.approx([0, 0, 0], abs=1e-3)
    printed = trimesh.load(io.BytesIO(files["stlUrl"].body), file_type="stl", force="mesh")
    assert isinstance(printed, trimesh.Trimesh)
    low, high = printed.bounds
    size = model["printSizeMm"]
    assert list(high - low) == pytest.approx([size["x"], size["y"], size["z"]], rel=1e-4)
    assert low[2] == pytest.approx(0.0, abs=1e-6)  # on the bed


def save(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def served_name(url: str) -> str:
    return PurePosixPath(urlsplit(url).path).name

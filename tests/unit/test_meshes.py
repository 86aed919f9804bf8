"""Offline relief models: submit → poll → fetch, and files a slicer and the viewers can load."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
import trimesh
from PIL import Image

from lumi_common.errors import PermanentError
from lumi_common.storage import LocalStorage
from lumi_image_worker.providers.images import InstantImageGenerator, OfflineImageGenerator
from lumi_model_worker.providers.meshes import MeshGenerator, OfflineReliefGenerator, PollResult
from lumi_model_worker.providers.model_files import (
    GLB_FILE,
    MTL_FILE,
    OBJ_FILE,
    STL_FILE,
    TEXTURE_FILE,
    VIEWER_SIZE,
    MeshArtifacts,
)
from lumi_model_worker.providers.relief import ReliefSpec

SPEC = ReliefSpec()


@pytest.fixture(scope="module")
async def picture() -> bytes:
    return (await OfflineImageGenerator().generate("一只戴帽子的小猫", seed=3)).data


@pytest.fixture
def work_dir(tmp_path: Path) -> Path:
    return tmp_path / "tmp" / "relief"


@pytest.fixture
def generator(work_dir: Path) -> MeshGenerator:
    return OfflineReliefGenerator(LocalStorage(work_dir))


@pytest.fixture
async def artifacts(generator: MeshGenerator, picture: bytes) -> MeshArtifacts:
    job_id = await generator.submit(picture, job_key="model-job-1")
    assert await generator.poll(job_id) == PollResult(state="done", progress=100)
    return await generator.fetch(job_id)


def load_obj(artifacts: MeshArtifacts, folder: Path) -> trimesh.Trimesh:
    for name, data in artifacts.files().items():
        (folder / name).write_bytes(data)
    resolver = trimesh.resolvers.FilePathResolver(str(folder))
    with (folder / OBJ_FILE).open("rb") as obj:
        mesh = trimesh.load(obj, file_type="obj", resolver=resolver, force="mesh")
    assert isinstance(mesh, trimesh.Trimesh)
    return mesh


def files_in(folder: Path) -> list[Path]:
    return sorted(folder.rglob("*")) if folder.exists() else []


def load_glb(artifacts: MeshArtifacts) -> trimesh.Trimesh:
    mesh = trimesh.load(io.BytesIO(artifacts.glb), file_type="glb", force="mesh")
    assert isinstance(mesh, trimesh.Trimesh)
    return mesh


def load_stl(artifacts: MeshArtifacts) -> trimesh.Trimesh:
    mesh = trimesh.load(io.BytesIO(artifacts.stl), file_type="stl", force="mesh")
    assert isinstance(mesh, trimesh.Trimesh)
    return mesh


async def test_obj_is_a_watertight_textured_solid(artifacts: MeshArtifacts, tmp_path: Path) -> None:
    mesh = load_obj(artifacts, tmp_path)
    assert mesh.is_watertight
    assert mesh.is_winding_consistent
    assert mesh.volume > 0
    assert isinstance(mesh.visual, trimesh.visual.TextureVisuals)
    assert mesh.visual.kind == "texture"
    assert mesh.visual.uv.shape == (len(mesh.vertices), 2)
    assert (len(mesh.vertices), len(mesh.faces)) == (artifacts.vertex_count, artifacts.face_count)


async def test_the_print_copy_has_the_promised_size_in_millimetres(
    artifacts: MeshArtifacts,
) -> None:
    solid = load_stl(artifacts)
    assert solid.is_watertight
    (low_x, low_y, low_z), (high_x, high_y, high_z) = solid.bounds
    assert (high_x - low_x, high_y - low_y) == pytest.approx((SPEC.size_mm, SPEC.size_mm))
    assert low_z == pytest.approx(0.0, abs=1e-9)  # a flat bottom on the bed
    assert SPEC.base_mm < high_z <= SPEC.base_mm + SPEC.relief_mm
    assert artifacts.size_mm == pytest.approx((high_x - low_x, high_y - low_y, high_z))


async def test_the_viewer_copy_lies_flat_y_up_unit_sized_and_centred(
    artifacts: MeshArtifacts, tmp_path: Path
) -> None:
    for mesh in (load_obj(artifacts, tmp_path), load_glb(artifacts)):
        low, high = mesh.bounds
        extent = high - low
        assert extent.max() == pytest.approx(VIEWER_SIZE)
        assert (low + high) / 2 == pytest.approx([0.0, 0.0, 0.0], abs=1e-6)
        # the picture's plate lies in the floor plane: Y (up) is its thin side
        assert extent[1] < 0.2 * VIEWER_SIZE
        # its textured top faces up (+Y), as the relief's faced +Z
        top = mesh.face_normals[mesh.triangles_center[:, 1] > high[1] - 0.05]
        assert top[:, 1].mean() > 0.5


async def test_obj_and_mtl_refer_to_their_files_relatively(artifacts: MeshArtifacts) -> None:
    obj = artifacts.obj.decode()
    assert f"mtllib {MTL_FILE}\n" in obj
    assert "\nusemtl material\n" in obj
    assert "\nvt " in obj
    assert f"\nmap_Kd {TEXTURE_FILE}\n" in artifacts.mtl.decode()
    assert list(artifacts.files()) == [OBJ_FILE, MTL_FILE, TEXTURE_FILE, GLB_FILE, STL_FILE]
    with Image.open(io.BytesIO(artifacts.texture)) as texture:
        assert (texture.format, texture.size) == ("PNG", (SPEC.texture_px, SPEC.texture_px))


async def test_glb_loads_with_the_texture(artifacts: MeshArtifacts) -> None:
    mesh = load_glb(artifacts)
    assert mesh.is_watertight
    assert isinstance(mesh.visual, trimesh.visual.TextureVisuals)
    assert mesh.visual.kind == "texture"
    assert (len(mesh.vertices), len(mesh.faces)) == (artifacts.vertex_count, artifacts.face_count)


async def test_a_restarted_worker_picks_up_a_submitted_job(work_dir: Path, picture: bytes) -> None:
    job_id = await OfflineReliefGenerator(LocalStorage(work_dir)).submit(
        picture, job_key="model-job-2"
    )
    fresh = OfflineReliefGenerator(LocalStorage(work_dir))
    assert (await fresh.poll(job_id)).state == "done"
    assert (await fresh.fetch(job_id)).vertex_count > 0


async def test_submitting_again_gives_the_same_job(
    generator: MeshGenerator, picture: bytes
) -> None:
    first = await generator.submit(picture, job_key="model-job-3")
    assert await generator.submit(picture, job_key="model-job-3") == first
    assert await generator.submit(picture, job_key="model-job-4") != first


@pytest.mark.parametrize("job_id", ["0" * 32, "../../etc/passwd", "", "A" * 32])
async def test_unknown_jobs_fail(generator: MeshGenerator, job_id: str) -> None:
    result = await generator.poll(job_id)
    assert (result.state, result.progress) == ("failed", 0)
    assert result.error
    with pytest.raises(PermanentError):
        await generator.fetch(job_id)


async def test_what_is_not_a_whole_picture_is_refused_at_submit(
    generator: MeshGenerator, picture: bytes, work_dir: Path
) -> None:
    with pytest.raises(PermanentError, match="not a picture"):
        await generator.submit(b"<html>not an image</html>", job_key="model-job-5")
    with pytest.raises(PermanentError, match="damaged"):
        await generator.submit(picture[:-20], job_key="model-job-5")
    assert files_in(work_dir) == []


async def test_a_single_bright_pixel_does_not_become_a_spike(work_dir: Path) -> None:
    canvas = Image.new("RGB", (128, 128), (240, 240, 240))
    canvas.putpixel((64, 64), (0, 0, 0))
    artifacts = await relief_of(canvas, work_dir)
    peak = load_stl(artifacts).bounds[1][2]
    assert peak - SPEC.base_mm < 0.1 * SPEC.relief_mm


async def test_transparent_areas_stay_flat_and_the_aspect_is_kept(work_dir: Path) -> None:
    cut_out = Image.new("RGBA", (200, 100), (0, 0, 0, 0))
    cut_out.paste((200, 60, 60, 255), (60, 20, 140, 80))
    artifacts = await relief_of(cut_out, work_dir, spec=ReliefSpec(grid=64))
    mesh = load_stl(artifacts)
    (low_x, low_y, _), (high_x, high_y, high_z) = mesh.bounds
    assert (high_x - low_x, high_y - low_y) == pytest.approx((100.0, 50.0), rel=0.02)
    top = mesh.vertices[mesh.vertices[:, 2] > 0]
    corner = top[(top[:, 0] < low_x + 5) & (top[:, 1] < low_y + 5)]
    assert corner[:, 2] == pytest.approx(SPEC.base_mm)
    assert high_z > SPEC.base_mm + 0.5 * SPEC.relief_mm


async def test_even_a_one_pixel_picture_makes_a_solid(work_dir: Path) -> None:
    tiny = (await InstantImageGenerator().generate("x", seed=0)).data
    generator = OfflineReliefGenerator(LocalStorage(work_dir), spec=ReliefSpec(grid=8))
    artifacts = await generator.fetch(await generator.submit(tiny, job_key="model-job-6"))
    mesh = load_glb(artifacts)
    assert mesh.is_watertight
    assert mesh.volume > 0


async def relief_of(
    picture: Image.Image, work_dir: Path, *, spec: ReliefSpec = SPEC
) -> MeshArtifacts:
    out = io.BytesIO()
    picture.save(out, format="PNG")
    generator = OfflineReliefGenerator(LocalStorage(work_dir), spec=spec)
    return await generator.fetch(await generator.submit(out.getvalue(), job_key="relief-of"))

"""Local storage on a real temporary directory: atomic writes, key rules, content types."""

from __future__ import annotations

from pathlib import Path

import pytest

from lumi_common.storage import (
    LocalStorage,
    ObjectNotFound,
    StoredFile,
    content_type_for,
    image_key,
    model_prefix,
)


@pytest.fixture
def storage(tmp_path: Path) -> LocalStorage:
    return LocalStorage(tmp_path / "store")


async def test_put_then_get_round_trips(storage: LocalStorage) -> None:
    stored = await storage.put("images/r1/0.png", b"png bytes", "image/png")
    assert stored == StoredFile(key="images/r1/0.png", size=9)
    assert await storage.get("images/r1/0.png") == b"png bytes"
    assert await storage.exists("images/r1/0.png")
    assert await storage.open_path("images/r1/0.png") == storage.root / "images/r1/0.png"


async def test_put_replaces_and_leaves_no_temporary_file(storage: LocalStorage) -> None:
    await storage.put("a/b.obj", b"old", "text/plain")
    await storage.put("a/b.obj", b"new content", "text/plain")
    assert await storage.get("a/b.obj") == b"new content"
    assert [p.name for p in (storage.root / "a").iterdir()] == ["b.obj"]


async def test_failed_write_keeps_the_old_file_and_no_temporary(storage: LocalStorage) -> None:
    await storage.put("a/b.png", b"old", "image/png")
    with pytest.raises(TypeError):
        await storage.put("a/b.png", "not bytes", "image/png")  # type: ignore[arg-type]
    assert await storage.get("a/b.png") == b"old"
    assert [p.name for p in (storage.root / "a").iterdir()] == ["b.png"]


async def test_missing_files(storage: LocalStorage) -> None:
    with pytest.raises(ObjectNotFound):
        await storage.get("images/none/0.png")
    assert not await storage.exists("images/none/0.png")
    assert await storage.open_path("images/none/0.png") is None
    await storage.delete("images/none/0.png")  # absent: a no-op, so retries are safe


async def test_delete(storage: LocalStorage) -> None:
    await storage.put("x/y.png", b"1", "image/png")
    await storage.delete("x/y.png")
    assert not await storage.exists("x/y.png")


async def test_delete_prefix_removes_only_that_folder(storage: LocalStorage) -> None:
    prefix = model_prefix("m1")
    for name in ("model.obj", "material.mtl", "material.png"):
        await storage.put(prefix + name, b"x", "text/plain")
    await storage.put("models/m10/model.obj", b"keep", "text/plain")
    assert await storage.delete_prefix(prefix) == 3
    assert not await storage.exists(prefix + "model.obj")
    assert await storage.get("models/m10/model.obj") == b"keep"
    assert await storage.delete_prefix(prefix) == 0


@pytest.mark.parametrize(
    "key",
    [
        "",
        "/etc/passwd",
        "../outside.png",
        "images/../../outside.png",
        "images/./0.png",
        "images//0.png",
        "images/r1/",
        "images\\r1\\0.png",
        "images/.hidden",
        "images/r1/0.png\x00.txt",
    ],
)
async def test_unsafe_keys_are_refused(storage: LocalStorage, key: str) -> None:
    with pytest.raises(ValueError, match="storage key"):
        await storage.put(key, b"x", "image/png")
    with pytest.raises(ValueError, match="storage key"):
        await storage.get(key)
    assert not (storage.root.parent / "outside.png").exists()


async def test_a_symlink_out_of_the_root_is_refused(storage: LocalStorage, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    storage.root.mkdir(parents=True)
    (storage.root / "link").symlink_to(outside, target_is_directory=True)
    with pytest.raises(ValueError, match="escapes the root"):
        await storage.put("link/file.png", b"x", "image/png")
    assert list(outside.iterdir()) == []


@pytest.mark.parametrize("prefix", ["", "/", "models", "../", "models/../"])
async def test_unsafe_prefixes_are_refused(storage: LocalStorage, prefix: str) -> None:
    with pytest.raises(ValueError, match="storage"):
        await storage.delete_prefix(prefix)


def test_key_layout() -> None:
    assert image_key("01JREQ", 3) == "images/01JREQ/3.png"
    assert model_prefix("01JMODEL") == "models/01JMODEL/"
    for bad_id in ("", "..", "a/b", "a\\b"):
        with pytest.raises(ValueError, match="storage key"):
            image_key(bad_id, 0)
        with pytest.raises(ValueError, match="storage key"):
            model_prefix(bad_id)
    with pytest.raises(ValueError, match="negative"):
        image_key("01JREQ", -1)


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        ("images/r/0.png", "image/png"),
        ("a/photo.JPG", "image/jpeg"),
        ("a/photo.jpeg", "image/jpeg"),
        ("models/m/model.obj", "text/plain; charset=utf-8"),
        ("models/m/material.mtl", "text/plain; charset=utf-8"),
        ("models/m/model.glb", "model/gltf-binary"),
        ("models/m/model.gltf", "model/gltf+json"),
        ("models/m/archive.zip", "application/octet-stream"),
        ("models/m/noextension", "application/octet-stream"),
    ],
)
def test_content_types(key: str, expected: str) -> None:
    assert content_type_for(key) == expected

from __future__ import annotations

from lumi_api.files.mtl import absolute_textures
from lumi_api.files.urls import FileUrls
from lumi_common.storage.signing import FileSigner, Signature

URLS = FileUrls(
    files_url="https://api.example.com/files/", signer=FileSigner("s" * 32), signed_seconds=60
)
KEY = "models/01M8J43YR4KC3FFRY6BYR3H031/material.mtl"


def test_relative_texture_names_become_public_urls() -> None:
    mtl = "newmtl material\r\nKd 1 1 1\nmap_Kd material.png\nmap_Bump -bm 0.5 bump.png\n"
    out = absolute_textures(mtl, key=KEY, url_for=URLS.public)
    folder = "https://api.example.com/files/models/01M8J43YR4KC3FFRY6BYR3H031"
    assert out == (
        "newmtl material\r\nKd 1 1 1\n"
        f"map_Kd {folder}/material.png\n"
        f"map_Bump -bm 0.5 {folder}/bump.png\n"
    )


def test_absolute_and_escaping_references_are_left_alone() -> None:
    mtl = "map_Kd https://cdn.example.com/t.png\nmap_Ka ../other/secret.png\nmap_Ks\n"
    assert absolute_textures(mtl, key=KEY, url_for=URLS.public) == mtl


def test_a_signed_mtl_names_signed_textures() -> None:
    out = absolute_textures("map_Kd material.png\n", key=KEY, url_for=URLS.signed)
    url = out.split()[1]
    folder = "https://api.example.com/files/models/01M8J43YR4KC3FFRY6BYR3H031"
    assert url.startswith(f"{folder}/material.png?exp=")
    exp, sig = (part.split("=", 1)[1] for part in url.split("?", 1)[1].split("&"))
    texture = "models/01M8J43YR4KC3FFRY6BYR3H031/material.png"
    assert URLS.check(texture, exp, sig) is Signature.VALID

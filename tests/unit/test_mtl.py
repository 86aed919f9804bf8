from __future__ import annotations

from lumi_api.files.mtl import absolute_textures
from lumi_api.files.urls import FileUrls

URLS = FileUrls("https://api.example.com")
KEY = "models/01M8J43YR4KC3FFRY6BYR3H031/material.mtl"


def test_relative_texture_names_become_public_urls() -> None:
    mtl = "newmtl material\r\nKd 1 1 1\nmap_Kd material.png\nmap_Bump -bm 0.5 bump.png\n"
    out = absolute_textures(mtl, key=KEY, url_for=URLS)
    folder = "https://api.example.com/files/models/01M8J43YR4KC3FFRY6BYR3H031"
    assert out == (
        "newmtl material\r\nKd 1 1 1\n"
        f"map_Kd {folder}/material.png\n"
        f"map_Bump -bm 0.5 {folder}/bump.png\n"
    )


def test_absolute_and_escaping_references_are_left_alone() -> None:
    mtl = "map_Kd https://cdn.example.com/t.png\nmap_Ka ../other/secret.png\nmap_Ks\n"
    assert absolute_textures(mtl, key=KEY, url_for=URLS) == mtl

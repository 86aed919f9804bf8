"""Gallery settings: how long list pages are cached, how often views reach the database."""

from __future__ import annotations

from pydantic import Field

from lumi_common.settings import LumiSettings


class GallerySettings(LumiSettings):
    # list pages are cached in Redis this long at most (writes invalidate them sooner); 0 = off
    gallery_cache_seconds: int = Field(default=300, ge=0, le=86400)
    # only the first this many pages of each order, at the page size the apps use, are cached:
    # any other page is read from the database, so callers cannot fill Redis with page keys
    gallery_cache_pages: int = Field(default=5, ge=0, le=100)
    # views are counted in Redis and added to `models.view_count` in batches this often
    view_flush_seconds: float = Field(default=10.0, ge=0.1, le=3600)

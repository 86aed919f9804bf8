"""Where generated files live: a `Storage` protocol, the local-directory default, and key rules."""

from lumi_common.storage.content_types import content_type_for
from lumi_common.storage.keys import (
    check_key,
    check_prefix,
    image_key,
    images_prefix,
    model_prefix,
    slice_prefix,
)
from lumi_common.storage.local import LocalStorage
from lumi_common.storage.protocol import ObjectNotFound, Storage, StoredFile

__all__ = [
    "LocalStorage",
    "ObjectNotFound",
    "Storage",
    "StoredFile",
    "check_key",
    "check_prefix",
    "content_type_for",
    "image_key",
    "images_prefix",
    "model_prefix",
    "slice_prefix",
]

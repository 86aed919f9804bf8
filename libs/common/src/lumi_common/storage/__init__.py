"""Where generated files live: a `Storage` protocol, a local folder or an S3 bucket, key rules."""

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
from lumi_common.storage.opening import open_storage
from lumi_common.storage.protocol import (
    ObjectNotFound,
    SigningUnavailable,
    Storage,
    StorageError,
    StoredFile,
)
from lumi_common.storage.s3 import MissingBucket, S3Storage

__all__ = [
    "LocalStorage",
    "MissingBucket",
    "ObjectNotFound",
    "S3Storage",
    "SigningUnavailable",
    "Storage",
    "StorageError",
    "StoredFile",
    "check_key",
    "check_prefix",
    "content_type_for",
    "image_key",
    "images_prefix",
    "model_prefix",
    "open_storage",
    "slice_prefix",
]

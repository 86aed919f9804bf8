"""Reading `response_fields_read` paths (contract §5) out of a JSend `data`, and checking that
each value has the type the apps expect.

Paths: `a.b` (objects); `items[].id` (every item; the list must not be empty); `[].id` (the
data is a plain array, or `{items}`: mobile takes either); `[] (plain array)` (only an array
will do); `interactions{id}.isLiked` (every value of an object keyed by id); `x(optional)`
(checked only when present); `model.*` (an object).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

ISO_MS = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")
REQUEST_STATUSES = {
    "IMAGE_PENDING",
    "IMAGE_GENERATING",
    "IMAGE_COMPLETED",
    "IMAGE_FAILED",
    "MODEL_PENDING",
    "MODEL_GENERATING",
    "MODEL_COMPLETED",
    "MODEL_FAILED",
    "COMPLETED",
    "FAILED",
    "CANCELLED",
}
JOB_STATUSES = {"QUEUED", "RUNNING", "RETRYING", "COMPLETED", "FAILED", "CANCELLED"}
PHASES = {"IMAGE_GENERATION", "AWAITING_SELECTION", "MODEL_GENERATION", "COMPLETED"}
IMAGE_STATUSES = {"PENDING", "GENERATING", "COMPLETED", "FAILED"}
SLICE_STATUSES = {"PENDING", "FETCHING", "PROCESSING", "COMPLETED", "FAILED"}
# null is a real value of these even on a finished resource
NULLABLE = {"errorMessage", "failedAt", "description", "avatar", "nickName", "sliceTaskId"}
NULLABLE |= {"sliceStatus"}


def is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def walk(data: Any, path: str) -> Iterator[tuple[str, Any]]:
    """Every (leaf name, value) the path names; a missing field fails, unless `(optional)`."""
    if path == "[] (plain array)":  # web: `data` itself must be the array
        assert isinstance(data, list), f"not a plain array: {data!r}"
        return
    if path in ("[] or items[]", "items[] or []"):  # mobile takes either
        assert isinstance(data if isinstance(data, list) else data.get("items"), list), data
        return
    optional = path.endswith("(optional)")
    path = path.removesuffix("(optional)")
    if path.startswith("[]"):
        assert isinstance(data, list | dict), f"{path}: not an array or {{items}}: {data!r}"
        items = data if isinstance(data, list) else data["items"]
        assert isinstance(items, list), f"{path}: no array"
        assert items, f"{path}: an empty array (nothing would be checked)"
        for item in items:
            yield from walk(item, path.removeprefix("[]").removeprefix("."))
        return
    head, _, rest = path.partition(".")
    name = head.removesuffix("[]").split("{")[0]
    assert isinstance(data, dict), f"{path}: {data!r} is not an object"
    if name not in data:
        assert optional, f"{path}: {name!r} missing from {sorted(data)}"
        return
    value = data[name]
    if head.endswith("[]"):
        assert isinstance(value, list), f"{path}: {name} is not an array"
        assert value, f"{path}: {name} is empty (nothing would be checked)"
        for item in value:
            yield from walk(item, rest) if rest else iter([(name + "[]", item)])
    elif head.endswith("{id}"):
        assert isinstance(value, dict), f"{path}: {name} is not an object"
        assert value, f"{path}: {name} is empty (nothing would be checked)"
        for item in value.values():
            yield from walk(item, rest)
    elif rest == "*":
        assert isinstance(value, dict), f"{path}: {name} is not an object"
        yield name, value
    elif rest:
        assert value is not None or name in ("model",), f"{path}: {name} is null"
        if value is not None:
            yield from walk(value, rest)
    else:
        yield name, value


def check(name: str, value: Any, *, base: str, filled: bool) -> None:
    """`filled`: the resource is finished, so only the really optional fields may be null."""
    if value is None:
        assert not filled or name in NULLABLE or name == "model", f"{name} is null"
        assert name in NULLABLE_TYPES, f"{name} must not be null"
        return
    rule = RULES.get(name) or (_url(base) if name.endswith("Url") else None)
    if rule is None and name.endswith("At"):
        rule = _time
    assert rule is not None, f"no rule for field {name!r}: add one"
    assert rule(value), f"{name} = {value!r}"


def _url(base: str) -> Callable[[Any], bool]:
    return lambda value: isinstance(value, str) and value.startswith(base + "/")


def _time(value: Any) -> bool:
    return isinstance(value, str) and bool(ISO_MS.match(value))


def _text(value: Any) -> bool:
    return isinstance(value, str) and bool(value)


STATS = (
    "totalModels",
    "publicModels",
    "privateModels",
    "totalLikes",
    "totalFavorites",
    "totalViews",
    "totalDownloads",
    "likedModelsCount",
    "favoritedModelsCount",
    "totalRequests",
    "completedRequests",
    "failedRequests",
)
COUNTS = ("total", "publicCount", "likeCount", "favoriteCount", "viewCount", "downloadCount")
RULES: dict[str, Callable[[Any], bool]] = {
    **{name: lambda v: is_int(v) and v >= 0 for name in (*STATS, *COUNTS)},
    **{name: lambda v: is_int(v) and v > 0 for name in ("fileSize", "faceCount", "vertexCount")},
    **{name: lambda v: isinstance(v, bool) for name in ("hasMore", "isAuthenticated")},
    **{name: lambda v: isinstance(v, bool) for name in ("isLiked", "isFavorited", "isInteracted")},
    **dict.fromkeys(("id", "name", "originalPrompt", "userName", "imagePrompt"), _text),
    **dict.fromkeys(("sourceImageId", "nickName", "avatar", "description"), _text),
    **dict.fromkeys(("errorMessage", "sliceTaskId"), _text),
    "email": lambda v: isinstance(v, str) and "@" in v,
    "token": lambda v: isinstance(v, str) and v.startswith("Bearer ") and len(v) > 20,
    "status": lambda v: v in REQUEST_STATUSES | JOB_STATUSES | {"authenticated"},
    "phase": lambda v: v in PHASES,
    "imageStatus": lambda v: v in IMAGE_STATUSES,
    "sliceStatus": lambda v: v in SLICE_STATUSES,
    "format": lambda v: v == "OBJ",  # mobile's viewer is OBJ only; web picks OBJLoader for it
    "visibility": lambda v: v in ("PUBLIC", "PRIVATE"),
    "index": lambda v: is_int(v) and 0 <= v <= 3,
    "selectedImageIndex": lambda v: is_int(v) and 0 <= v <= 3,
    "progress": lambda v: is_int(v) and 0 <= v <= 100,
    "images": lambda v: isinstance(v, list) and len(v) == 4,
    "images[]": lambda v: isinstance(v, dict),
    "model": lambda v: isinstance(v, dict),
}
# fields whose type allows null (on a resource still in progress, or always)
NULLABLE_TYPES = NULLABLE | {
    "model",
    "selectedImageIndex",
    "sourceImageId",
    "fileSize",
    "faceCount",
    "vertexCount",
    "completedAt",
    "imageUrl",
    "modelUrl",
    "mtlUrl",
    "textureUrl",
    "previewImageUrl",
    "gcodeUrl",
}

"""The base of every response body: camelCase names, timestamps as the clients parse them."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, PlainSerializer, WithJsonSchema
from pydantic.alias_generators import to_camel

from lumi_common.time import iso_ms

# ISO-8601 UTC with milliseconds and `Z`: the web client resends `new Date(x).toISOString()`
Timestamp = Annotated[
    datetime,
    PlainSerializer(iso_ms, return_type=str, when_used="json"),
    WithJsonSchema(
        {"type": "string", "format": "date-time", "examples": ["2026-02-04T12:00:00.000Z"]}
    ),
]


class ApiModel(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_camel, validate_by_name=True, validate_by_alias=True, frozen=True
    )

    def to_json(self) -> dict[str, Any]:
        return self.model_dump(mode="json", by_alias=True)


class MessageOut(ApiModel):
    """What an action with nothing else to return answers (a JSON body, never an empty 2xx)."""

    message: str

"""The sentences of the errors every service shares (`lumi_common.errors`), and durations."""

from __future__ import annotations

from lumi_common.i18n import Message, Text

INTERNAL_ERROR = Message("INTERNAL_ERROR", zh="服务器内部错误", en="Internal server error")
BAD_REQUEST = Message("BAD_REQUEST", zh="请求无效", en="Bad request")
INVALID_INPUT = Message("INVALID_INPUT", zh="输入无效", en="Invalid input")
UNAUTHORIZED = Message("UNAUTHORIZED", zh="需要身份验证", en="Authentication required")
FORBIDDEN = Message("FORBIDDEN", zh="无权执行此操作", en="Not allowed")
NOT_FOUND = Message("NOT_FOUND", zh="未找到", en="Not found")
METHOD_NOT_ALLOWED = Message("METHOD_NOT_ALLOWED", zh="不支持此请求方法", en="Method not allowed")
CONFLICT = Message("CONFLICT", zh="与当前状态冲突", en="Conflict")
INVALID_STATE = Message(
    "INVALID_STATE",
    zh="当前状态不允许此操作",
    en="The resource is not in a state that allows this",
)
PAYLOAD_TOO_LARGE = Message("PAYLOAD_TOO_LARGE", zh="请求内容过大", en="Request body too large")
UNSUPPORTED_MEDIA_TYPE = Message(
    "UNSUPPORTED_MEDIA_TYPE", zh="不支持此内容类型", en="Unsupported media type"
)
HTTP_ERROR = Message("HTTP_ERROR", zh="请求无法处理", en="The request cannot be handled")
RATE_LIMITED = Message("RATE_LIMITED", zh="请求过于频繁", en="Too many requests")
NOT_IMPLEMENTED = Message("NOT_IMPLEMENTED", zh="此功能尚未提供", en="Not implemented")
SERVICE_UNAVAILABLE = Message("SERVICE_UNAVAILABLE", zh="服务暂时不可用", en="Service unavailable")
COMMIT_OUTCOME_UNKNOWN = Message(
    "COMMIT_OUTCOME_UNKNOWN",
    zh="保存时与数据库的连接中断，更改可能已生效也可能未生效。请先刷新查看，再决定是否重试",
    en=(
        "The connection to the database broke while saving: the change may or may not have"
        " been made. Read the resource before trying again"
    ),
)

SECONDS = Message("SECONDS", zh="{n} 秒", en="{n} seconds", en_one="{n} second", count="n")
MINUTES = Message("MINUTES", zh="{n} 分钟", en="{n} minutes", en_one="{n} minute", count="n")
HOURS = Message("HOURS", zh="{n} 小时", en="{n} hours", en_one="{n} hour", count="n")


def duration(seconds: int) -> Text:
    """A wait as a reader counts it: seconds under two minutes, minutes under two hours."""
    if seconds < 120:
        return SECONDS(n=seconds)
    minutes = -(-seconds // 60)
    if minutes < 120:
        return MINUTES(n=minutes)
    return HOURS(n=-(-minutes // 60))

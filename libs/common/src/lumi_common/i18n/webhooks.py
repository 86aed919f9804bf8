"""Why a webhook URL is refused (the field's name comes before it)."""

from __future__ import annotations

from lumi_common.i18n import Message

URL_TOO_LONG = Message(
    "URL_TOO_LONG",
    zh="最多 {limit} 个字符",
    en="must be at most {limit} characters",
    en_one="must be at most {limit} character",
    count="limit",
)
URL_INVALID = Message("URL_INVALID", zh="不是有效的网址", en="is not a valid URL")
URL_NOT_HTTP = Message(
    "URL_NOT_HTTP",
    zh="必须是以 http:// 或 https:// 开头的完整网址",
    en="must be an absolute http:// or https:// URL",
)
URL_HAS_CREDENTIALS = Message(
    "URL_HAS_CREDENTIALS", zh="不能包含用户名或密码", en="must not carry a user name or password"
)
URL_PORT_ZERO = Message("URL_PORT_ZERO", zh="不能使用 0 号端口", en="must not use port 0")
URL_HAS_SPACES = Message("URL_HAS_SPACES", zh="不能包含空格", en="must not contain spaces")
URL_PRIVATE = Message(
    "URL_PRIVATE",
    zh="不能指向私有、回环或保留地址",
    en="must not point to a private, loopback or reserved address",
)

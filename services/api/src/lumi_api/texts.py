"""The API's sentences for clients, zh-CN and en (`lumi_common.i18n`; the errors every service
shares are in `lumi_common.i18n.http`, the job failures in `lumi_common.i18n.jobs`).

Grouped by what they are about. A `{field}` is filled in when the sentence is used; a sentence
never holds English words in zh-CN except names (Lumi, URL, header names)."""

from __future__ import annotations

from lumi_common.i18n import Message

# --- requests in general
INVALID_JSON = Message(
    "INVALID_JSON",
    zh="请求体必须是一个 JSON 对象",
    en="The request body must be a JSON object",
)
FIELD_PROBLEM = Message(
    "FIELD_PROBLEM",
    zh="{field}: {reason}",
    en="{field}: {reason}",
)
FIELD_PROBLEMS_JOIN = Message(
    "FIELD_PROBLEMS_JOIN",
    zh="；",
    en="; ",
)
TOO_MANY_REQUESTS = Message(
    "TOO_MANY_REQUESTS",
    zh="请求过于频繁，请放慢速度，在 Retry-After 秒后重试",
    en="Too many requests: slow down and try again after Retry-After seconds",
)
DEPENDENCY_UNAVAILABLE = Message(
    "DEPENDENCY_UNAVAILABLE",
    zh="服务暂时不可用，请在 Retry-After 秒后重试",
    en="Temporarily unavailable: try again after Retry-After seconds",
)
NO_SUCH_FILE = Message(
    "NO_SUCH_FILE",
    zh="文件不存在",
    en="No such file",
)
NO_SUCH_VIEWER_FILE = Message(
    "NO_SUCH_VIEWER_FILE",
    zh="接口文档查看器中没有这个文件",
    en="No such file of the API viewer",
)
IDEMPOTENCY_KEY_REUSED = Message(
    "IDEMPOTENCY_KEY_REUSED",
    zh="这个 Idempotency-Key 已用于另一个不同的请求体",
    en="This Idempotency-Key was already used with a different request body",
)
IDEMPOTENCY_KEY_INVALID = Message(
    "IDEMPOTENCY_KEY_INVALID",
    zh="必须是 1 到 {limit} 个可见 ASCII 字符（UUID 是很好的选择）",
    en="must be 1–{limit} visible ASCII characters (a UUID is a good key)",
)
SINCE_INVALID = Message(
    "SINCE_INVALID",
    zh="必须是 ISO-8601 日期时间，例如 2026-02-04T12:00:00.000Z",
    en="must be an ISO-8601 date-time such as 2026-02-04T12:00:00.000Z",
)
LAST_EVENT_ID_INVALID = Message(
    "LAST_EVENT_ID_INVALID",
    zh="必须是此事件流发送过的某个事件的编号（即任务的 updatedAt）",
    en="must be the id of an event this stream sent (the task's updatedAt)",
)

# --- validation reasons, by pydantic's error type (the field's name comes before them)
FIELD_REQUIRED = Message(
    "FIELD_REQUIRED",
    zh="必填",
    en="Field required",
)
FIELD_UNKNOWN = Message(
    "FIELD_UNKNOWN",
    zh="不允许此字段",
    en="Extra inputs are not permitted",
)
VALUE_INVALID = Message(
    "VALUE_INVALID",
    zh="值无效",
    en="Invalid value",
)
NOT_A_STRING = Message(
    "NOT_A_STRING",
    zh="应为字符串",
    en="Input should be a valid string",
)
NOT_AN_INTEGER = Message(
    "NOT_AN_INTEGER",
    zh="应为整数",
    en="Input should be a valid integer",
)
NOT_A_NUMBER = Message(
    "NOT_A_NUMBER",
    zh="应为数字",
    en="Input should be a valid number",
)
NOT_A_BOOLEAN = Message(
    "NOT_A_BOOLEAN",
    zh="应为布尔值",
    en="Input should be a valid boolean",
)
NOT_A_LIST = Message(
    "NOT_A_LIST",
    zh="应为数组",
    en="Input should be a valid list",
)
NOT_AN_OBJECT = Message(
    "NOT_AN_OBJECT",
    zh="应为对象",
    en="Input should be an object",
)
NOT_A_DATETIME = Message(
    "NOT_A_DATETIME",
    zh="应为日期时间",
    en="Input should be a valid datetime",
)
NOT_A_URL = Message(
    "NOT_A_URL",
    zh="应为有效的网址",
    en="Input should be a valid URL",
)
NOT_AN_EMAIL = Message(
    "NOT_AN_EMAIL",
    zh="不是有效的电子邮件地址",
    en="not an e-mail address",
)
TEXT_EMPTY = Message("TEXT_EMPTY", zh="不能为空", en="String should have at least 1 character")
LIST_EMPTY = Message("LIST_EMPTY", zh="不能为空", en="List should have at least 1 item")
TEXT_TOO_SHORT = Message(
    "TEXT_TOO_SHORT",
    zh="至少需要 {min_length} 个字符",
    en="String should have at least {min_length} characters",
    en_one="String should have at least {min_length} character",
    count="min_length",
)
TEXT_TOO_LONG = Message(
    "TEXT_TOO_LONG",
    zh="最多 {max_length} 个字符",
    en="String should have at most {max_length} characters",
    en_one="String should have at most {max_length} character",
    count="max_length",
)
TEXT_PATTERN = Message(
    "TEXT_PATTERN",
    zh="格式不正确",
    en="String does not have the expected format",
)
LIST_TOO_SHORT = Message(
    "LIST_TOO_SHORT",
    zh="至少需要 {min_length} 项",
    en="List should have at least {min_length} items",
    en_one="List should have at least {min_length} item",
    count="min_length",
)
LIST_TOO_LONG = Message(
    "LIST_TOO_LONG",
    zh="最多 {max_length} 项",
    en="List should have at most {max_length} items",
    en_one="List should have at most {max_length} item",
    count="max_length",
)
GREATER_THAN = Message(
    "GREATER_THAN",
    zh="应大于 {gt}",
    en="Input should be greater than {gt}",
)
AT_LEAST = Message(
    "AT_LEAST",
    zh="应大于或等于 {ge}",
    en="Input should be greater than or equal to {ge}",
)
LESS_THAN = Message(
    "LESS_THAN",
    zh="应小于 {lt}",
    en="Input should be less than {lt}",
)
AT_MOST = Message(
    "AT_MOST",
    zh="应小于或等于 {le}",
    en="Input should be less than or equal to {le}",
)
ONE_OF = Message(
    "ONE_OF",
    zh="应为以下之一：{expected}",
    en="Input should be {expected}",
)
CHOICES = Message(
    "CHOICES",
    zh="{choices} 或 {last}",
    en="{choices} or {last}",
)
PAGE_OR_OFFSET = Message(
    "PAGE_OR_OFFSET",
    zh="请用 offset 或 page 之一翻页，不能同时使用",
    en="page through with offset or with page, not both",
)
IDS_OR_ALL = Message(
    "IDS_OR_ALL",
    zh='请给出 "ids"（死信编号列表）或 "all": true，二选一',
    en='give either "ids" (a list of letter ids) or "all": true',
)
UNKNOWN_EVENT_TYPE = Message(
    "UNKNOWN_EVENT_TYPE",
    zh="未知的事件类型；可选：{choices}",
    en="unknown event type; one of {choices}",
)

# --- sign-in
LOGIN_REQUIRED = Message(
    "LOGIN_REQUIRED",
    zh="请先登录",
    en="Please sign in first",
)
COOKIE_NEEDS_JSON = Message(
    "COOKIE_NEEDS_JSON",
    zh="通过会话 Cookie 登录的 POST 请求必须使用 Content-Type: application/json",
    en="A POST signed in by the session cookie must send Content-Type: application/json",
)
ADMIN_REQUIRED = Message(
    "ADMIN_REQUIRED",
    zh="仅管理员可执行此操作",
    en="Only administrators may do this",
)
# one answer for every refused code — wrong, expired, used, locked, or never sent — so that
# login does not tell whether an address ever received a code (the reason goes to the log)
CODE_REFUSED = Message(
    "CODE_REFUSED",
    zh="验证码错误或已过期，请重新获取验证码",
    en="The code is wrong or has expired; request a new code",
)
LOGIN_SLOWED = Message(
    "LOGIN_SLOWED",
    zh="错误的验证码次数过多，请在 {wait}后重试",
    en="Too many wrong codes; try again in {wait}",
)
LOGIN_UNAVAILABLE = Message(
    "LOGIN_UNAVAILABLE",
    zh="登录暂时不可用，请稍后重试",
    en="Login is unavailable for a moment; please try again",
)
SEND_CODE_INTERVAL = Message(
    "SEND_CODE_INTERVAL",
    zh="验证码刚刚已发送到这个邮箱，请等待 {wait}后再获取",
    en="A code was just sent to this address; wait {wait} before asking again",
)
SEND_CODE_ADDRESS = Message(
    "SEND_CODE_ADDRESS",
    zh="这个邮箱获取验证码的次数过多，请在 {wait}后重试",
    en="Too many codes were requested for this address; try again in {wait}",
)
SEND_CODE_NETWORK = Message(
    "SEND_CODE_NETWORK",
    zh="当前网络获取验证码的次数过多，请在 {wait}后重试",
    en="Too many codes were requested from this network; try again in {wait}",
)
EMAIL_UNAVAILABLE = Message(
    "EMAIL_UNAVAILABLE",
    zh="邮件发送失败，请稍后重试",
    en="The e-mail could not be sent; please try again in a moment",
)
CODE_EMAIL_SUBJECT = Message(
    "CODE_EMAIL_SUBJECT",
    zh="Lumi 验证码",
    en="Your Lumi verification code",
)
CODE_EMAIL_BODY = Message(
    "CODE_EMAIL_BODY",
    zh=(
        "您的 Lumi 验证码是 {code}，{minutes} 分钟内有效。\n\n"
        "如果这不是您本人的操作，请忽略此邮件。\n"
    ),
    en=(
        "Your Lumi verification code is {code}. It expires in {minutes} minutes.\n\n"
        "If you did not ask for it, ignore this e-mail.\n"
    ),
    en_one=(
        "Your Lumi verification code is {code}. It expires in {minutes} minute.\n\n"
        "If you did not ask for it, ignore this e-mail.\n"
    ),
    count="minutes",
)

# --- tasks
TASK_NOT_FOUND = Message(
    "TASK_NOT_FOUND",
    zh="生成请求不存在",
    en="Task not found",
)
IMAGE_NOT_READY = Message(
    "IMAGE_NOT_READY",
    zh="所选图片尚未生成完成",
    en="The chosen image is not ready",
)
MODEL_ALREADY_REQUESTED = Message(
    "MODEL_ALREADY_REQUESTED",
    zh="这个生成请求已经在生成模型了",
    en="A model has already been requested for this task",
)
NOT_AWAITING_SELECTION = Message(
    "NOT_AWAITING_SELECTION",
    zh="这个生成请求当前不在等待选择图片",
    en="The task is not waiting for an image to be chosen",
)
PROMPT_VARIANTS_UNAVAILABLE = Message(
    "PROMPT_VARIANTS_UNAVAILABLE",
    zh="无法准备图片描述，请稍后重试",
    en="Could not prepare the image prompts",
)
QUOTA_EXCEEDED = Message(
    "QUOTA_EXCEEDED",
    zh="已超出配额",
    en="Quota exceeded",
)
DAILY_EXCEEDED = Message(
    "DAILY_EXCEEDED",
    zh="过去 24 小时内您已创建 {limit} 个生成请求，请在 {wait}后重试",
    en="You have created {limit} tasks in the last 24 hours; try again in {wait}",
    en_one="You have created {limit} task in the last 24 hours; try again in {wait}",
    count="limit",
)
ACTIVE_EXCEEDED = Message(
    "ACTIVE_EXCEEDED",
    zh="您已有 {limit} 个生成请求正在生成，请等其中一个完成",
    en="You already have {limit} tasks generating; wait until one of them is done",
    en_one="You already have {limit} task generating; wait until it is done",
    count="limit",
)
ALREADY_FINISHED = Message(
    "ALREADY_FINISHED",
    zh="这个生成请求已经结束：只能取消尚未结束的请求",
    en="The task has already finished: only an unfinished task can be cancelled",
)
NOTHING_TO_RETRY = Message(
    "NOTHING_TO_RETRY",
    zh="这个生成请求没有失败的部分，无需重试",
    en="Nothing of this task has failed: there is nothing to retry",
)
IMAGES_ALREADY_CHOSEN = Message(
    "IMAGES_ALREADY_CHOSEN",
    zh="已经选择了图片：图片不能再重新生成",
    en="An image was already chosen: the images can no longer be retried",
)
MODEL_NOT_FAILED = Message(
    "MODEL_NOT_FAILED",
    zh="只有失败的模型可以重试",
    en="Only a failed model can be retried",
)
MODEL_COMPLETE = Message(
    "MODEL_COMPLETE",
    zh="模型已完成，不会原地重新生成；如需新模型，请创建新的生成请求",
    en="The model is complete and is not regenerated in place; create a new task for a new model",
)
TASK_DELETED = Message(
    "TASK_DELETED",
    zh="生成请求已删除",
    en="Task deleted",
)

# --- models, gallery, files, slices
MODEL_NOT_FOUND = Message(
    "MODEL_NOT_FOUND",
    zh="模型不存在",
    en="Model not found",
)
NOT_MODEL_OWNER = Message(
    "NOT_MODEL_OWNER",
    zh="这个模型属于其他用户",
    en="This model belongs to another user",
)
MODEL_NOT_COMPLETED = Message(
    "MODEL_NOT_COMPLETED",
    zh="只有已完成的模型可以公开",
    en="Only a completed model can be made public",
)
MODEL_STILL_GENERATING = Message(
    "MODEL_STILL_GENERATING",
    zh="模型仍在生成中，完成后才能删除",
    en="The model is still being generated; it can be deleted once it is done",
)
MODEL_DELETED = Message(
    "MODEL_DELETED",
    zh="模型已删除",
    en="Model deleted",
)
DOWNLOADED = Message(
    "DOWNLOADED",
    zh="下载成功",
    en="Download recorded",
)
FILE_NOT_FOUND = Message(
    "FILE_NOT_FOUND",
    zh="文件不存在",
    en="File not found",
)
FILES_UNAVAILABLE = Message(
    "FILES_UNAVAILABLE",
    zh="文件暂时无法访问，请重试",
    en="Files are unavailable for a moment: try again",
)
LINK_EXPIRED = Message(
    "LINK_EXPIRED",
    zh="文件链接已过期，请刷新页面获取新链接",
    en="This file link has expired: reload to get a new one",
)
LINK_INVALID = Message(
    "LINK_INVALID",
    zh="文件链接无效",
    en="This file link is not valid",
)
SLICE_NOT_FOUND = Message(
    "SLICE_NOT_FOUND",
    zh="切片任务不存在",
    en="Slice task not found",
)
MODEL_NOT_READY_TO_SLICE = Message(
    "MODEL_NOT_READY_TO_SLICE",
    zh="模型尚未生成完成，完成后才能切片",
    en="The model is not generated yet: it can be sliced once it is completed",
)
SLICE_IN_PROGRESS = Message(
    "SLICE_IN_PROGRESS",
    zh="这个模型正在切片，请等待切片完成",
    en="This model is being sliced; wait for that slice to finish",
)
SLICE_STARTED = Message(
    "SLICE_STARTED",
    zh="切片任务已创建，正在处理中",
    en="The slice task was created and is being processed",
)

PRINTERS_NOT_AVAILABLE = Message(
    "PRINTERS_NOT_AVAILABLE",
    zh="此版本的 Lumi 暂不支持打印机",
    en="Printers are not available in this version of Lumi yet",
)
PRINTER_NOT_FOUND = Message(
    "PRINTER_NOT_FOUND",
    zh="打印机不存在",
    en="Printer not found",
)

# --- users, webhooks, operators
NOT_YOUR_PROFILE = Message(
    "NOT_YOUR_PROFILE",
    zh="只能修改自己的资料",
    en="You can only update your own profile",
)
PROFILE_UPDATED = Message(
    "PROFILE_UPDATED",
    zh="资料已更新",
    en="Profile updated",
)
WEBHOOK_NOT_FOUND = Message(
    "WEBHOOK_NOT_FOUND",
    zh="回调地址不存在",
    en="Webhook not found",
)
TOO_MANY_WEBHOOKS = Message(
    "TOO_MANY_WEBHOOKS",
    zh="每位用户最多 {limit} 个回调地址，请先删除一个",
    en="At most {limit} webhooks per user; delete one first",
    en_one="At most {limit} webhook per user; delete it first",
    count="limit",
)
WEBHOOK_DELETED = Message(
    "WEBHOOK_DELETED",
    zh="回调地址已删除",
    en="Webhook deleted",
)
UNKNOWN_STREAM = Message(
    "UNKNOWN_STREAM",
    zh="没有这个消息流；可选：{streams}",
    en="No such stream; streams: {streams}",
)
NOT_REPLAYABLE = Message(
    "NOT_REPLAYABLE",
    zh="本接口不能重放这个消息流的死信",
    en="This API cannot replay this stream's letters",
)
REDIS_UNAVAILABLE = Message(
    "REDIS_UNAVAILABLE",
    zh="Redis 暂时不可用",
    en="Redis is unavailable",
)

"""What a client reads on a task, image, model or slice that did not finish: fixed sentences
(never a provider's or an exception's own words), recorded by the workers with `stored` and
rendered in the reader's language."""

from __future__ import annotations

from lumi_common.i18n import Message

GENERATION_FAILED = Message(
    "GENERATION_FAILED", zh="生成失败，请重试。", en="Generation failed. Please try again."
)
CONTENT_REFUSED = Message(
    "CONTENT_REFUSED",
    zh="生成服务依据其内容政策拒绝了这张图片或这段描述。请换一张图片，或换一段描述重新开始。",
    en=(
        "The generation service refused this picture or prompt under its content policy. "
        "Choose another picture, or start again with a different prompt."
    ),
)
PROVIDER_FAILED = Message(
    "PROVIDER_FAILED",
    zh="生成服务未能完成这一次生成。请重试，或换一张图片。",
    en="The generation service could not make this one. Try again, or choose another picture.",
)
ALL_IMAGES_FAILED = Message(
    "ALL_IMAGES_FAILED", zh="所有图片均生成失败", en="All images failed to generate"
)
CANCELLED = Message("CANCELLED", zh="已取消", en="Cancelled")

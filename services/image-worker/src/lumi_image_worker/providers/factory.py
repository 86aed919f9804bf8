"""The image generator and prompt-variant source the settings choose: the one place that knows
every adapter."""

from __future__ import annotations

from yarl import URL

from lumi_common.providers.calls import CallLog
from lumi_common.providers.http import BearerApi, Timeouts
from lumi_common.providers.tencent import TencentApi
from lumi_image_worker.providers import hunyuan_images
from lumi_image_worker.providers.chat_prompts import ChatPromptVariants
from lumi_image_worker.providers.dashscope import DashScope
from lumi_image_worker.providers.hosted_images import AsyncImageGenerator, HostedImageGenerator
from lumi_image_worker.providers.images import (
    ImageGenerator,
    InstantImageGenerator,
    OfflineImageGenerator,
)
from lumi_image_worker.providers.openai_images import OpenAIImageGenerator
from lumi_image_worker.settings import ImageWorkerSettings

# where each service's pictures live (subdomains included), besides its API's host
RESULT_HOSTS = {
    "openai": frozenset[str](),
    "dashscope": frozenset({"aliyuncs.com"}),
    "hunyuan": frozenset({"myqcloud.com", "tencentcos.cn"}),
}


def image_generator(
    settings: ImageWorkerSettings, *, calls: CallLog
) -> ImageGenerator | AsyncImageGenerator:
    provider = settings.image_provider
    if provider == "instant":
        return InstantImageGenerator()
    if provider == "offline":
        return OfflineImageGenerator()
    if provider == "openai":
        key = settings.image_api_key
        return OpenAIImageGenerator(
            base_url=settings.image_api_base_url,
            model=settings.image_model,
            api_key=key.get_secret_value() if key else None,
            timeout=settings.image_api_timeout_seconds,
            calls=calls,
            downloads=settings.download_policy(RESULT_HOSTS["openai"]),
        )
    if provider == "dashscope" and settings.dashscope_api_key:
        api = BearerApi(
            settings.dashscope_base_url, settings.dashscope_api_key, settings.api_timeouts()
        )
        service: DashScope | hunyuan_images.HunyuanImages = DashScope(
            api=api, model=settings.dashscope_model
        )
        base_url = settings.dashscope_base_url
    else:
        tencent = TencentApi(
            base_url=settings.hunyuan_image_base_url,
            service=hunyuan_images.SERVICE,
            version=hunyuan_images.VERSION,
            region=settings.tencent_region,
            credentials=settings.tencent_credentials(),
            timeouts=settings.api_timeouts(),
        )
        service = hunyuan_images.HunyuanImages(api=tencent)
        base_url = settings.hunyuan_image_base_url
    hosts = RESULT_HOSTS[provider] | {URL(base_url).host or ""}
    return HostedImageGenerator(service, calls=calls, downloads=settings.download_policy(hosts))


def prompt_variants(settings: ImageWorkerSettings, *, calls: CallLog) -> ChatPromptVariants | None:
    """The chat model that rewrites a request's variants, or None to keep the offline ones."""
    if settings.prompt_provider == "offline":
        return None
    limit = settings.prompt_timeout_seconds
    return ChatPromptVariants(
        base_url=settings.prompt_api_base_url,
        model=settings.prompt_model,
        api_key=settings.prompt_api_key,
        calls=calls,
        timeouts=Timeouts(
            connect=settings.provider_connect_timeout_seconds, read=limit, total=limit
        ),
    )

"""`/webhooks`: the caller's webhook endpoints, and the secret of their `callbackUrl`s."""

from __future__ import annotations

import functools

import structlog
from aiohttp import web
from sqlalchemy.exc import IntegrityError

from lumi_api import jsend, texts
from lumi_api.auth.current import require_user
from lumi_api.body import parse_body
from lumi_api.keys import SESSIONMAKER, SETTINGS
from lumi_api.routing import add_route
from lumi_api.schemas import MessageOut
from lumi_api.webhooks import service
from lumi_api.webhooks.schemas import (
    CreatedWebhookOut,
    CreateWebhookBody,
    SigningSecretOut,
    WebhookListOut,
    WebhookOut,
)
from lumi_common.time import utcnow

log = structlog.get_logger(__name__)


def setup(app: web.Application) -> None:
    route = functools.partial(add_route, app, auth="required", tag="webhooks")
    route(
        "POST",
        "/webhooks",
        create_webhook,
        summary="Register a URL for the caller's task events; the answer shows its signing "
        "secret once (Standard Webhooks)",
        body=CreateWebhookBody,
        response=CreatedWebhookOut,
        status=201,
        responses=(409,),
    )
    route(
        "GET", "/webhooks", list_webhooks, summary="The caller's webhooks", response=WebhookListOut
    )
    route(
        "GET",
        "/webhooks/secret",
        callback_secret,
        summary="The secret the caller's `callbackUrl` deliveries are signed with",
        response=SigningSecretOut,
    )
    route(
        "DELETE",
        "/webhooks/{webhook_id}",
        delete_webhook,
        summary="Delete a webhook; its pending deliveries are dropped",
        response=MessageOut,
    )


async def create_webhook(request: web.Request) -> web.Response:
    user = await require_user(request)
    body = await parse_body(request, CreateWebhookBody)
    settings = request.app[SETTINGS]
    url = service.acceptable_url(
        body.url, allow_private=settings.webhook_allow_private, field="url"
    )
    async with request.app[SESSIONMAKER].begin() as session:
        endpoint = await service.register(
            session,
            user_id=user.id,
            url=url,
            event_types=body.types(),
            limit=settings.webhook_max_endpoints,
            now=utcnow(),
        )
    log.info("webhook.registered", webhook_id=endpoint.id, event_types=endpoint.event_types)
    return jsend.success(CreatedWebhookOut.created(endpoint).to_json(), status=201)


async def list_webhooks(request: web.Request) -> web.Response:
    user = await require_user(request)
    async with request.app[SESSIONMAKER]() as session:
        endpoints = await service.list_endpoints(session, user_id=user.id)
    items = [WebhookOut.build(endpoint) for endpoint in endpoints]
    return jsend.success(WebhookListOut(items=items, total=len(items)).to_json())


async def delete_webhook(request: web.Request) -> web.Response:
    user = await require_user(request)
    webhook_id = request.match_info["webhook_id"]
    async with request.app[SESSIONMAKER].begin() as session:
        await service.remove(session, user_id=user.id, webhook_id=webhook_id)
    log.info("webhook.deleted", webhook_id=webhook_id)
    return jsend.success(MessageOut(message=texts.WEBHOOK_DELETED.render()).to_json())


async def callback_secret(request: web.Request) -> web.Response:
    user = await require_user(request)
    try:
        async with request.app[SESSIONMAKER].begin() as session:
            found = await service.callback_secret(session, user_id=user.id, now=utcnow())
    except IntegrityError:  # made by a concurrent first call: read that one
        async with request.app[SESSIONMAKER].begin() as session:
            found = await service.callback_secret(session, user_id=user.id, now=utcnow())
    return jsend.success(SigningSecretOut.of(found.secret, found.created_at).to_json())

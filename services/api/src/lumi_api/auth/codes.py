"""E-mail login codes: six random digits, stored as a keyed hash, checked at most N times.

Why HMAC-SHA256 keyed with COOKIE_SECRET rather than argon2: a code has only 10^6 values, so no
slow hash could make a leaked hash safe to brute-force offline, while argon2 would make every check
cost CPU (an easy denial of service). What protects a code is the key, which is not in the
database, plus a 10-minute lifetime and the limit on wrong tries. The hash covers the address, so
a row's hash is useless for any other address.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage

from sqlalchemy.ext.asyncio import AsyncSession

from lumi_api import texts
from lumi_api.auth.repository import EmailCodeRepository
from lumi_api.auth.settings import LoginCodeSettings
from lumi_common.db.tables import EmailCode
from lumi_common.errors import BadRequest
from lumi_common.i18n import LOCALES, Locale
from lumi_common.ids import new_id
from lumi_common.states import EmailCodePurpose

CODE_DIGITS = 6
# derives the code-hashing key from COOKIE_SECRET, so it differs from the cookie-signing key
_KEY_CONTEXT = b"lumi.email-code.v1"


class InvalidCode(BadRequest):
    """Never a 401: the web app would take it for an expired session (contract §0 rule 6)."""

    code, default_message = "INVALID_CODE", texts.CODE_REFUSED


@dataclass(frozen=True, slots=True)
class CodeRules:
    secret: str
    ttl: timedelta
    max_attempts: int

    @classmethod
    def of(cls, settings: LoginCodeSettings, *, secret: str) -> CodeRules:
        return cls(
            secret=secret,
            ttl=timedelta(seconds=settings.login_code_ttl_seconds),
            max_attempts=settings.login_code_max_attempts,
        )

    def hash(self, *, email: str, code: str) -> str:
        key = hmac.new(self.secret.encode(), _KEY_CONTEXT, hashlib.sha256).digest()
        return hmac.new(key, f"{email}\n{code}".encode(), hashlib.sha256).hexdigest()


def new_code() -> str:
    return f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"


def store(
    session: AsyncSession,
    rules: CodeRules,
    *,
    email: str,
    code: str,
    purpose: EmailCodePurpose,
    requester_ip: str,
    now: datetime,
) -> str:
    row = EmailCode(
        id=new_id(),
        email=email,
        purpose=purpose,
        code_hash=rules.hash(email=email, code=code),
        failed_attempts=0,
        requester_ip=requester_ip[:64],
        created_at=now,
        expires_at=now + rules.ttl,
    )
    EmailCodeRepository(session).add(row)
    return row.id


async def check(
    session: AsyncSession,
    rules: CodeRules,
    *,
    email: str,
    code: str,
    client: str,
    consume: bool,
    now: datetime,
) -> str | None:
    """None when `code` is the address's live code (used up if `consume`); else why not — for
    the log only: the client gets one answer whatever the reason (`messages.CODE_REFUSED`).

    A wrong try locks the code after `max_attempts` only when it comes from the client that
    asked for the code: a stranger guessing someone else's code cannot lock it (the Redis
    limiter in `attempts` slows the stranger instead). The count is in this transaction: the
    caller commits it. Purposes are recorded, not enforced: mobile logs in with the code it
    registered with.
    """
    repo = EmailCodeRepository(session)
    row = await repo.newest(email)
    if row is None:
        return "no code was sent to this address"
    refused = _refusal(row, rules, now=now)
    if refused is not None:
        return refused
    if not hmac.compare_digest(row.code_hash, rules.hash(email=email, code=code)):
        if client != row.requester_ip:
            return "wrong code from another client than the requester's"
        failures = await repo.record_failure(row.id, max_attempts=rules.max_attempts)
        return f"wrong code ({failures} of {rules.max_attempts} wrong tries)"
    if consume and not await repo.consume(row.id, max_attempts=rules.max_attempts, now=now):
        return "code already used"
    return None


def _refusal(row: EmailCode, rules: CodeRules, *, now: datetime) -> str | None:
    if row.consumed_at is not None:
        return "code already used"
    if row.failed_attempts >= rules.max_attempts:
        return "code locked after too many wrong tries"
    if row.expires_at <= now:
        return "code expired"
    return None


async def discard(session: AsyncSession, code_id: str) -> None:
    """A code whose e-mail could not be sent: the address's previous code counts again."""
    await EmailCodeRepository(session).delete(code_id)


async def retire_others(session: AsyncSession, *, email: str, keep_id: str, now: datetime) -> None:
    await EmailCodeRepository(session).retire_others(email, keep_id=keep_id, now=now)


def code_message(*, to: str, code: str, ttl: timedelta, locale: Locale) -> EmailMessage:
    """The login code e-mail in both languages, the reader's first (who asked for it): a code
    asked for from an English page may be read by someone who reads only Chinese."""
    minutes = max(1, int(ttl.total_seconds()) // 60)
    order = sorted(LOCALES, key=lambda each: each != locale)
    body = texts.CODE_EMAIL_BODY(code=code, minutes=minutes)
    message = EmailMessage()
    message["To"] = to
    message["Subject"] = " / ".join(texts.CODE_EMAIL_SUBJECT.render(each) for each in order)
    message.set_content("\n".join(body.render(each) for each in order))
    return message

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from lumi_api.settings import ApiSettings
from lumi_common.secret_strength import GENERATE_HINT
from lumi_common.settings import DatabaseSettings, StorageSettings, describe_errors
from lumi_common.storage_url import LocalLocation, S3Location

SECRET = "s" * 32  # long enough, and plainly weak: refused in production only
STRONG = "Yq3_kP9-vT1xW7mZ2nB8cR4dF6gH0jL5sA"
# production refuses the console e-mail backend; these tests are about the other rules
MAIL = {"email_backend": "smtp", "smtp_host": "smtp.example.com", "smtp_from": "no-reply@x.io"}


def api(**values: object) -> ApiSettings:
    return ApiSettings(**{"cookie_secret": SECRET, "file_url_secret": SECRET, **MAIL, **values})  # type: ignore[arg-type]


def error_lines(**values: object) -> list[str]:
    with pytest.raises(ValidationError) as caught:
        ApiSettings(**{**MAIL, **values})  # type: ignore[arg-type]
    return describe_errors(caught.value)


def test_cookie_secret_is_required_with_no_fallback(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("COOKIE_SECRET", raising=False)
    assert error_lines() == ["configuration error: COOKIE_SECRET: is required"]


def test_cookie_secret_of_31_characters_is_refused() -> None:
    (line,) = error_lines(cookie_secret="s" * 31)
    assert line.startswith("configuration error: COOKIE_SECRET:")
    assert "32" in line


def test_cookie_secret_is_hidden_from_repr() -> None:
    assert SECRET not in repr(api())


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("mysql://root@db:3306/lumi", "mysql+aiomysql://root@db:3306/lumi"),
        ("mariadb://root@db/lumi", "mysql+aiomysql://root@db/lumi"),
        ("sqlite:///.lumi/lumi.db", "sqlite+aiosqlite:///.lumi/lumi.db"),
    ],
)
def test_database_url_gets_the_async_driver(given: str, expected: str) -> None:
    assert DatabaseSettings(database_url=given).database_url == expected


def test_unknown_database_scheme_names_the_variable() -> None:
    with pytest.raises(ValidationError) as caught:
        DatabaseSettings(database_url="postgres://x/y")
    (line,) = describe_errors(caught.value)
    assert line.startswith("configuration error: DATABASE_URL:")


def test_pool_settings_are_validated() -> None:
    with pytest.raises(ValidationError):
        DatabaseSettings(db_pool_size=0)
    assert DatabaseSettings(db_pool_size=25, db_max_overflow=5).db_pool_size == 25


def test_development_allows_local_origins_only() -> None:
    settings = api(app_env="development")
    assert settings.allows_origin("http://localhost:4100")
    assert settings.allows_origin("http://127.0.0.1:3001")
    assert not settings.allows_origin("https://evil.example")


def test_production_needs_an_explicit_origin_list() -> None:
    lines = error_lines(
        cookie_secret=STRONG,
        app_env="production",
        public_base_url="https://api.example.com",
        database_url="mysql://lumi@db/lumi",
    )
    assert any("CORS_ORIGINS" in line for line in lines)


def test_production_refuses_wildcard_with_credentials() -> None:
    lines = error_lines(
        cookie_secret=STRONG,
        app_env="production",
        public_base_url="https://api.example.com",
        database_url="mysql://lumi@db/lumi",
        cors_origins="*",
        cors_allow_credentials=True,
    )
    assert any("CORS_ORIGINS=*" in line for line in lines)


def test_production_with_explicit_origins_is_strict() -> None:
    settings = api(
        app_env="production",
        cookie_secret=STRONG,
        file_url_secret=STRONG,
        database_url="mysql://lumi@db/lumi",
        public_base_url="https://api.example.com",
        cors_origins="https://lumi.example.com, https://admin.example.com",
    )
    assert settings.cors_origins == ["https://lumi.example.com", "https://admin.example.com"]
    assert settings.allows_origin("https://lumi.example.com")
    assert not settings.allows_origin("http://localhost:3000")


def test_origins_must_look_like_origins() -> None:
    lines = error_lines(cookie_secret=SECRET, cors_origins="lumi.example.com")
    assert any(line.startswith("configuration error: CORS_ORIGINS:") for line in lines)


def test_public_base_url_defaults_to_the_local_port() -> None:
    assert api(port=4000).base_url == "http://127.0.0.1:4000"
    assert api(public_base_url="https://api.example.com/").base_url == "https://api.example.com"


def test_production_needs_a_file_url_secret() -> None:
    lines = error_lines(
        cookie_secret=STRONG,
        app_env="production",
        public_base_url="https://api.example.com",
        cors_origins="https://lumi.example.com",
        database_url="mysql://lumi@db/lumi",
    )
    assert any("FILE_URL_SECRET" in line for line in lines)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("file:///srv/lumi/files", LocalLocation(Path("/srv/lumi/files"))),
        ("file:relative/files", LocalLocation(Path("relative/files"))),
        ("s3://lumi-files", S3Location("lumi-files", "")),
        ("s3://lumi-files/", S3Location("lumi-files", "")),
        ("s3://lumi-files/prod/eu", S3Location("lumi-files", "prod/eu/")),
    ],
)
def test_storage_urls(url: str, expected: object) -> None:
    assert StorageSettings(storage_url=url).storage_location == expected


@pytest.mark.parametrize(
    "url",
    ["/srv/files", "http://x/y", "file://host/x", "s3://", "s3://Upper", "s3://b/../x", "s3:b"],
)
def test_bad_storage_urls_are_refused(url: str) -> None:
    with pytest.raises(ValidationError) as caught:
        StorageSettings(storage_url=url)
    assert describe_errors(caught.value)[0].startswith("configuration error: STORAGE_URL:")


def test_storage_dir_is_a_deprecated_alias_not_combined_with_storage_url() -> None:
    assert StorageSettings(storage_dir=Path("/x")).storage_location == LocalLocation(Path("/x"))
    assert StorageSettings().storage_location == LocalLocation(Path(".lumi/storage"))
    with pytest.raises(ValidationError, match="not both"):
        StorageSettings(storage_dir=Path("/x"), storage_url="file:///y")


PRODUCTION = {
    "app_env": "production",
    "cookie_secret": STRONG,
    "file_url_secret": "Fz8_Lq2-Rw5tY9uP3oI7kJ1hG4dS6aM0x",
    "database_url": "mysql://lumi@db/lumi",
    "public_base_url": "https://api.example.com",
    "cors_origins": "https://lumi.example.com",
}


def test_a_sound_production_configuration_is_accepted() -> None:
    assert api(**PRODUCTION).is_production


@pytest.mark.parametrize(
    ("unsafe", "variable", "reason"),
    [
        ({"cors_origins": "*"}, "CORS_ORIGINS", "CORS_ORIGINS=*"),
        ({"public_base_url": "http://api.example.com"}, "PUBLIC_BASE_URL", "https://"),
        ({"smtp_starttls": False}, "SMTP_STARTTLS", "SMTP_STARTTLS=false"),
        ({"database_url": "sqlite:///.lumi/lumi.db"}, "DATABASE_URL", "SQLite"),
        ({"cookie_secret": "s" * 32}, "COOKIE_SECRET", "1 different characters"),
        ({"cookie_secret": "0123456789" * 4}, "COOKIE_SECRET", "pattern repeated"),
        ({"cookie_secret": "aaaaaaaaaaaaaaaaaaaaaaaaaabcdefgh"}, "COOKIE_SECRET", "predictable"),
        ({"file_url_secret": "f" * 32}, "FILE_URL_SECRET", "1 different characters"),
        ({"file_url_secret": "changeme" * 4}, "FILE_URL_SECRET", "pattern repeated"),
        ({"file_url_secret": "f" * 26 + "abcdefgh"}, "FILE_URL_SECRET", "predictable"),
    ],
)
def test_production_refuses_unsafe_settings(
    unsafe: dict[str, object], variable: str, reason: str
) -> None:
    """Issue 12, point 16: each of these was accepted in production."""
    lines = error_lines(**{**PRODUCTION, **unsafe})
    assert any(variable in line and reason in line for line in lines), lines
    # outside production the same values are allowed
    api(**{**PRODUCTION, **unsafe, "app_env": "development"})


def test_a_weak_file_url_secret_is_one_line_naming_it_with_the_generate_hint() -> None:
    """The workers sign file URLs with it too: they refuse it as the API does."""
    (line,) = error_lines(**{**PRODUCTION, "file_url_secret": "f" * 32})
    assert line.startswith("configuration error:")
    assert "FILE_URL_SECRET" in line
    assert GENERATE_HINT in line
    with pytest.raises(ValidationError) as caught:
        StorageSettings(app_env="production", file_url_secret="f" * 32)
    (line,) = describe_errors(caught.value)
    assert "FILE_URL_SECRET" in line
    assert GENERATE_HINT in line
    StorageSettings(app_env="development", file_url_secret="f" * 32)


def test_plain_smtp_to_a_local_relay_is_allowed_in_production() -> None:
    for host in ("localhost", "127.0.0.1", "::1"):
        assert not api(**PRODUCTION, smtp_host=host, smtp_starttls=False).smtp_starttls


def test_random_secrets_are_never_refused() -> None:
    import secrets

    from lumi_common.secret_strength import weakness

    for _ in range(2000):
        assert weakness(secrets.token_hex(16)) is None
        assert weakness(secrets.token_urlsafe(32)) is None

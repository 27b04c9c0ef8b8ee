"""Settings from the environment: defaults that work, clear errors for bad values."""

from __future__ import annotations

import pytest

from lapor.platform.keys import platform_key, tenant_key
from lapor.settings import Settings, SettingsError


def test_defaults_need_no_configuration() -> None:
    settings = Settings.from_env({})
    assert settings.database_url is None and settings.redis_url is None
    assert settings.base_domain == "localhost"


def test_values_are_parsed() -> None:
    settings = Settings.from_env(
        {
            "LAPOR_BASE_DOMAIN": "Lapor.Go.Id.",
            "LAPOR_DB_PREPARE_THRESHOLD": "none",
            "LAPOR_MIGRATE_WORKERS": "3",
        }
    )
    assert settings.base_domain == "lapor.go.id"
    assert settings.db_prepare_threshold is None
    assert settings.migrate_workers == 3


@pytest.mark.parametrize(
    ("name", "value"),
    [("LAPOR_MIGRATE_WORKERS", "many"), ("LAPOR_MIGRATE_WORKERS", "0"), ("LAPOR_HOST_CACHE_TTL", "soon")],
)
def test_bad_values_name_the_variable(name: str, value: str) -> None:
    with pytest.raises(SettingsError, match=name):
        Settings.from_env({name: value})


def test_every_tenant_key_carries_the_tenant() -> None:
    assert tenant_key("ttu", "rate", 42) == "lapor:t:ttu:rate:42"
    assert platform_key("registry-changed") == "lapor:p:registry-changed"
    with pytest.raises(ValueError):
        tenant_key("", "rate")

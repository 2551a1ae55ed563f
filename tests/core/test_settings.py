"""Settings: defaults, the YAML file, environment overrides, clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.settings import Settings


def test_environment_overrides_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A value in the environment wins over the same key in the config file."""
    cfg = tmp_path / "newsflow.yaml"
    cfg.write_text("host_delay: 2.5\nboilerplate_min_pages: 4\n")
    monkeypatch.setenv("NEWSFLOW_CONFIG", str(cfg))
    monkeypatch.setenv("NEWSFLOW_HOST_DELAY", "0.5")
    settings = Settings.load()
    assert settings.host_delay == 0.5
    assert settings.boilerplate_min_pages == 4


def test_redis_and_elasticsearch_urls_use_their_usual_names(monkeypatch: pytest.MonkeyPatch) -> None:
    """REDIS_URL and ELASTICSEARCH_URL switch the embedded parts off."""
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:6379/3")
    monkeypatch.setenv("ELASTICSEARCH_URL", "http://127.0.0.1:9200")
    settings = Settings.load()
    assert settings.redis_url == "redis://127.0.0.1:6379/3"
    assert settings.elasticsearch_url == "http://127.0.0.1:9200"
    assert not settings.embedded


def test_a_bad_network_list_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    """NEWSFLOW_ALLOW_PRIVATE_NETWORKS must be CIDRs; the message names the bad one."""
    monkeypatch.setenv("NEWSFLOW_ALLOW_PRIVATE_NETWORKS", "127.0.0.1/32, tenten")
    with pytest.raises(ValueError, match="tenten"):
        Settings.load()


def test_secrets_are_masked_when_printed(monkeypatch: pytest.MonkeyPatch) -> None:
    """A password never appears in the printable settings."""
    monkeypatch.setenv("NEWSFLOW_ELASTICSEARCH_PASSWORD", "hunter2-secret")
    settings = Settings.load()
    assert "hunter2-secret" not in str(settings.public_dict())
    assert "hunter2-secret" not in repr(settings)


def test_a_broker_url_that_is_not_redis_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    """NEWSFLOW_BROKER_URL must name a Redis; the message says so without the URL's password."""
    monkeypatch.setenv("NEWSFLOW_BROKER_URL", "amqp://guest:pa55word@rabbit:5672//")
    with pytest.raises(ValueError, match="NEWSFLOW_BROKER_URL: amqp:// is not Redis;") as raised:
        Settings.load()
    assert "pa55word" not in str(raised.value)
    monkeypatch.setenv("NEWSFLOW_BROKER_URL", "broker.internal:6379")
    with pytest.raises(ValueError, match="NEWSFLOW_BROKER_URL: not a URL"):
        Settings.load()


@pytest.mark.parametrize("url", ["redis://b:6379/1", "rediss://b:6380/0", "unix:///run/broker.sock"])
def test_a_broker_url_of_redis_is_taken(monkeypatch: pytest.MonkeyPatch, url: str) -> None:
    """The broker's Redis may be TCP, TLS or a unix socket; unset, the broker is the state's Redis."""
    monkeypatch.delenv("NEWSFLOW_BROKER_URL", raising=False)
    assert Settings.load().broker_url is None
    monkeypatch.setenv("NEWSFLOW_BROKER_URL", url)
    assert Settings.load().broker_url == url


def test_state_on_a_cluster_needs_its_url_and_a_broker_of_its_own(monkeypatch: pytest.MonkeyPatch) -> None:
    """NEWSFLOW_REDIS_CLUSTER takes REDIS_URL (a node, over TCP) and NEWSFLOW_BROKER_URL; each missing one is named."""
    for name in ("REDIS_URL", "NEWSFLOW_REDIS_URL", "NEWSFLOW_BROKER_URL"):  # a session's Redis
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("NEWSFLOW_REDIS_CLUSTER", "true")
    with pytest.raises(ValueError, match="set REDIS_URL to a node of the cluster"):
        Settings.load()
    monkeypatch.setenv("REDIS_URL", "redis://node1:7000")
    with pytest.raises(ValueError, match="set NEWSFLOW_BROKER_URL"):
        Settings.load()
    monkeypatch.setenv("NEWSFLOW_BROKER_URL", "redis://broker:6379/0")
    assert Settings.load().redis_cluster
    monkeypatch.setenv("REDIS_URL", "unix:///run/redis.sock")
    with pytest.raises(ValueError, match="over TCP"):
        Settings.load()

"""docker-compose.yml keeps its shape: no Docker engine runs here, so the structure is checked."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
NEWSFLOW_SERVICES = ("worker-fetch", "worker-process", "worker-feeds-index", "beat", "api")
NEEDED_ENV = {
    "REDIS_URL": "redis://redis:6379/0",
    "ELASTICSEARCH_URL": "http://elasticsearch:9200",
    "NEWSFLOW_DATA_DIR": "/data",
    "NEWSFLOW_LOG_FORMAT": "json",
}


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    data = yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, Any]:
    return compose["services"]


def command(service: dict[str, Any]) -> str:
    cmd = service.get("command", "")
    return " ".join(cmd) if isinstance(cmd, list) else str(cmd)


def env(service: dict[str, Any]) -> dict[str, str]:
    value = service.get("environment", {})
    if isinstance(value, list):
        return dict(item.split("=", 1) for item in value)
    return {k: str(v) for k, v in value.items()}


def test_every_expected_service_is_there(services: dict[str, Any]) -> None:
    assert set(services) >= {"redis", "elasticsearch", "flower", *NEWSFLOW_SERVICES}


def test_every_image_is_pinned_to_an_exact_version(services: dict[str, Any]) -> None:
    for name, service in services.items():
        if "build" in service:
            continue
        image = service["image"]
        repo, _, tag = image.rpartition(":")
        assert repo and "/" not in tag, f"{name}: {image} has no tag"
        assert tag != "latest", f"{name}: {image} floats on :latest"
        assert re.fullmatch(r"\d+\.\d+\.\d+(-[\w.]+)?", tag), f"{name}: {image} is not pinned to x.y.z"


def test_elasticsearch_is_version_8_like_the_client_pin(services: dict[str, Any]) -> None:
    assert services["elasticsearch"]["image"].startswith("docker.elastic.co/elasticsearch/elasticsearch:8.")


def test_newsflow_services_build_from_the_repo_and_get_their_environment(services: dict[str, Any]) -> None:
    assert (ROOT / "Dockerfile").is_file()
    for name in NEWSFLOW_SERVICES:
        service = services[name]
        assert service.get("build") == ".", name
        assert env(service).items() >= NEEDED_ENV.items(), name
        assert any(str(v).split(":")[-1] == "/data" for v in service.get("volumes", [])), f"{name}: no /data volume"


def test_newsflow_services_start_after_healthy_redis_and_elasticsearch(services: dict[str, Any]) -> None:
    for name in NEWSFLOW_SERVICES:
        deps = services[name]["depends_on"]
        assert deps["redis"]["condition"] == "service_healthy", name
        assert deps["elasticsearch"]["condition"] == "service_healthy", name
    assert services["flower"]["depends_on"]["redis"]["condition"] == "service_healthy"
    assert "healthcheck" in services["redis"] and "healthcheck" in services["elasticsearch"]


def test_workers_fit_their_queues(services: dict[str, Any]) -> None:
    fetch = command(services["worker-fetch"])
    assert "-Q fetch" in fetch and "-P threads" in fetch and "-c 32" in fetch
    process = command(services["worker-process"])
    assert "-Q process" in process and "-P prefork" in process and " -c " not in process  # one per core
    assert "-Q feeds,index" in command(services["worker-feeds-index"])
    assert command(services["beat"]).startswith("celery -A workers beat")
    assert "flower" in command(services["flower"])
    assert command(services["api"]).startswith("newsflow serve")


def test_redis_persists_and_data_lives_in_named_volumes(compose: dict[str, Any], services: dict[str, Any]) -> None:
    assert "--appendonly yes" in command(services["redis"])
    volumes = set(compose["volumes"])
    assert "redis-data:/data" in services["redis"]["volumes"]
    assert "es-data:/usr/share/elasticsearch/data" in services["elasticsearch"]["volumes"]
    assert {"redis-data", "es-data", "newsflow-data"} <= volumes


def test_the_api_has_a_healthcheck_on_its_health_route(services: dict[str, Any]) -> None:
    """Compose marks the API healthy only once its /healthz answers (port of its own command)."""
    check = services["api"]["healthcheck"]
    probe = " ".join(check["test"])
    port = re.search(r"--port (\d+)", command(services["api"]))
    assert port, "the api command names its port"
    assert f"127.0.0.1:{port.group(1)}/healthz" in probe
    assert check["test"][0] in {"CMD", "CMD-SHELL"} and "curl" not in probe  # python:slim has no curl
    assert check["retries"] >= 1 and check["interval"]

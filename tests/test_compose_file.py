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
    "AWS_ENDPOINT_URL": "http://minio:9000",
}
# MinIO pins by release timestamp, not x.y.z: an exact version too.
MINIO_RELEASE = r"RELEASE\.\d{4}-\d{2}-\d{2}T\d{2}-\d{2}-\d{2}Z"


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
    assert set(services) >= {"redis", "elasticsearch", "minio", "minio-init", "flower", *NEWSFLOW_SERVICES}


def test_every_image_is_pinned_to_an_exact_version(services: dict[str, Any]) -> None:
    for name, service in services.items():
        if "build" in service:
            continue
        image = service["image"]
        repo, _, tag = image.rpartition(":")
        assert repo and "/" not in tag, f"{name}: {image} has no tag"
        assert tag != "latest", f"{name}: {image} floats on :latest"
        semver = r"\d+\.\d+\.\d+(-[\w.]+)?"
        pinned = f"{semver}|{MINIO_RELEASE}" if repo.startswith("minio/") else semver
        assert re.fullmatch(pinned, tag), f"{name}: {image} is not pinned to an exact version"


def test_elasticsearch_is_version_8_like_the_client_pin(services: dict[str, Any]) -> None:
    assert services["elasticsearch"]["image"].startswith("docker.elastic.co/elasticsearch/elasticsearch:8.")


def test_newsflow_services_build_from_the_repo_and_get_their_environment(services: dict[str, Any]) -> None:
    assert (ROOT / "Dockerfile").is_file()
    for name in NEWSFLOW_SERVICES:
        service = services[name]
        assert service.get("build") == ".", name
        assert env(service).items() >= NEEDED_ENV.items(), name


def test_newsflow_services_start_after_healthy_redis_and_elasticsearch(services: dict[str, Any]) -> None:
    for name in NEWSFLOW_SERVICES:
        deps = services[name]["depends_on"]
        assert deps["redis"]["condition"] == "service_healthy", name
        assert deps["elasticsearch"]["condition"] == "service_healthy", name
        assert deps["minio-init"]["condition"] == "service_completed_successfully", name
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
    assert "minio-data:/data" in services["minio"]["volumes"]
    assert {"redis-data", "es-data", "minio-data"} <= volumes


def volume_sources(service: dict[str, Any]) -> set[str]:
    """What a service mounts: named volumes and host paths (short or long syntax)."""
    sources = set()
    for item in service.get("volumes", []):
        source = item.get("source") if isinstance(item, dict) else str(item).split(":")[0]
        if source:
            sources.add(str(source))
    return sources


def test_no_volume_is_shared_between_newsflow_services(services: dict[str, Any]) -> None:
    """Raw pages live in the object store: any newsflow service can run on any host."""
    seen: dict[str, str] = {}
    for name in NEWSFLOW_SERVICES:
        for source in volume_sources(services[name]):
            assert source not in seen, f"{source} is mounted by both {seen[source]} and {name}"
            seen[source] = name


def test_every_newsflow_service_keeps_raw_pages_in_the_minio_bucket(services: dict[str, Any]) -> None:
    from pipeline.storage import parse_location

    minio_env = env(services["minio"])
    buckets = set()
    for name in NEWSFLOW_SERVICES:
        service_env = env(services[name])
        location = parse_location(service_env.get("NEWSFLOW_RAW_STORE", ""))
        assert location is not None, f"{name}: NEWSFLOW_RAW_STORE is not an s3:// location"
        buckets.add(location[0])
        assert service_env["AWS_ACCESS_KEY_ID"] == minio_env["MINIO_ROOT_USER"], name
        assert service_env["AWS_SECRET_ACCESS_KEY"] == minio_env["MINIO_ROOT_PASSWORD"], name
    (bucket,) = buckets
    assert f"mc mb --ignore-existing local/{bucket}" in command(services["minio-init"])
    assert services["minio-init"]["depends_on"]["minio"]["condition"] == "service_healthy"
    assert services["minio-init"]["restart"] == "no"
    assert "healthcheck" in services["minio"]


def test_the_api_has_a_healthcheck_on_its_health_route(services: dict[str, Any]) -> None:
    """Compose marks the API healthy only once its /healthz answers (port of its own command)."""
    check = services["api"]["healthcheck"]
    probe = " ".join(check["test"])
    port = re.search(r"--port (\d+)", command(services["api"]))
    assert port, "the api command names its port"
    assert f"127.0.0.1:{port.group(1)}/healthz" in probe
    assert check["test"][0] in {"CMD", "CMD-SHELL"} and "curl" not in probe  # python:slim has no curl
    assert check["retries"] >= 1 and check["interval"]

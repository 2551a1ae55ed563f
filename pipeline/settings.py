"""One typed settings object for every process.

Precedence, highest first: environment variables, the YAML file named by
`NEWSFLOW_CONFIG` (default: `config/newsflow.yaml` of the source tree, when present), the
defaults written here. Nothing reads the environment at
import time: entrypoints call `Settings.load()` once and pass the object down.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import os
import re
from pathlib import Path
from typing import Any, Literal, Self

import yaml
from pydantic import AliasChoices, Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict, YamlConfigSettingsSource

DEFAULT_CONFIG_FILE = Path(__file__).resolve().parent.parent / "config" / "newsflow.yaml"


def _default_data_dir() -> Path:
    """`$XDG_DATA_HOME/newsflow`, or `~/.local/share/newsflow` when XDG_DATA_HOME is unset."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "newsflow"


class Settings(BaseSettings):
    """Every setting newsflow reads. Each field's docstring is its description: the
    configuration reference (`docs/reference/configuration.md`) is generated from them."""

    model_config = SettingsConfigDict(
        env_prefix="NEWSFLOW_",
        extra="ignore",
        populate_by_name=True,
        use_attribute_docstrings=True,
        # A URL given may hold a password: errors name the setting and say why, not the value.
        hide_input_in_errors=True,
    )

    data_dir: Path = Field(default_factory=_default_data_dir)
    """Where the embedded Redis, the embedded search index (`index.tantivy` or `index.sqlite3`),
    the raw pages (unless `raw_store` says otherwise), the metrics files and the worker logs live."""
    redis_url: str | None = Field(default=None, validation_alias=AliasChoices("REDIS_URL", "NEWSFLOW_REDIS_URL"))
    """Unset: an embedded Redis under `data_dir`. Set (e.g. `redis://redis:6379/0`): a real Redis
    for the shared state, and for the broker unless `broker_url` names another."""
    broker_url: str | None = None
    """The Redis that carries Celery's queues (`redis://`, `rediss://` or `unix://`). Unset: the
    state's Redis (`redis_url`, or the embedded one). Set, the queues live there and the shared
    state stays on `redis_url`; the reconciler reads the queues where they are."""
    redis_cluster: bool = False
    """`true`: `redis_url` names any node of a Redis Cluster, which holds the shared state (the
    seen URLs and the work ledger split into partitions spread over its slots). The broker then
    needs a Redis of its own (`broker_url`): Celery's queues cannot live on a cluster."""
    elasticsearch_url: str | None = Field(
        default=None, validation_alias=AliasChoices("ELASTICSEARCH_URL", "NEWSFLOW_ELASTICSEARCH_URL")
    )
    """Unset: the embedded index under `data_dir` (see `search_backend`). Set: an Elasticsearch
    cluster."""
    elasticsearch_username: str | None = None
    """User name for Elasticsearch's basic authentication (with `elasticsearch_password`)."""
    elasticsearch_password: SecretStr | None = None
    """Password for Elasticsearch's basic authentication; never printed or logged."""
    elasticsearch_api_key: SecretStr | None = None
    """An Elasticsearch API key, instead of a user name and password; never printed or logged."""
    elasticsearch_ca_certs: Path | None = None
    """A CA bundle (PEM file) to verify the Elasticsearch cluster's certificate with."""
    search_backend: Literal["tantivy", "sqlite"] = "tantivy"
    """The embedded index: `tantivy` (a search engine, `<data_dir>/index.tantivy`) or `sqlite`
    (FTS5, `<data_dir>/index.sqlite3`). A data directory holding only a SQLite index keeps
    using it until `newsflow reindex` has built the Tantivy index from it."""
    elasticsearch_index: str = "newsflow-articles"
    """The alias every search reads; each month's articles are in `<this>-YYYY.MM-vN`, written
    through the month's alias `<this>-YYYY.MM`."""
    elasticsearch_shards: int | None = Field(default=None, ge=1, le=1024)
    """Primary shards of each new monthly index. Unset: the index template's (1). Aim for
    shards of 10 to 50 GB: see the capacity page."""
    raw_store: str | None = None
    """Where raw pages are kept: a directory, or `s3://bucket/prefix` on S3-compatible storage
    (credentials, region and `AWS_ENDPOINT_URL` from the standard `AWS_*` variables). Unset:
    `<data_dir>/raw`. A bucket that does not exist stops `run` and each worker at start."""

    feeds_file: Path | None = None
    """Feeds file used when `newsflow run` gets no `--feeds`."""
    feed_interval: float = Field(default=900.0, gt=0)
    """Poll interval, in seconds, that a feed which does not set one starts from; it then adapts
    to how often the feed publishes (about one new item a poll)."""
    feed_min_interval: float = Field(default=120.0, gt=0)
    """Lower bound of the adaptive poll interval, in seconds: a busy feed is polled no more
    often than this."""
    feed_max_interval: float = Field(default=6 * 3600.0, gt=0)
    """Upper bound of the adaptive poll interval, in seconds: a quiet feed is polled at least
    this often (a Retry-After may exceed it)."""
    feed_error_backoff_max: float = Field(default=6 * 3600.0, gt=0)
    """Longest wait between two polls of a failing feed, in seconds. Errors slow a feed down
    up to this, never stop it."""
    feed_verify_every: int = Field(default=12, ge=0)
    """Every this many 304 answers in a row, a feed is polled without validators, to notice an
    ETag or Last-Modified that stays put while the feed changes. 0 never checks."""

    connect_timeout: float = Field(default=10.0, gt=0)
    """Seconds to open a connection to a site."""
    read_timeout: float = Field(default=20.0, gt=0)
    """Seconds to wait for each read from a site."""
    total_timeout: float = Field(default=60.0, gt=0)
    """Seconds for a whole request, name lookup included: bounds a server that drips its answer."""
    max_page_bytes: int = Field(default=5 * 1024 * 1024, ge=1)
    """Larger pages are refused (streamed, so the cap holds without a Content-Length)."""
    max_feed_bytes: int = Field(default=10 * 1024 * 1024, ge=1)
    """Larger feeds are refused."""
    max_redirects: int = Field(default=5, ge=0)
    """Redirects followed for one request; each target is checked like the first address."""
    user_agent: str = "newsflow/0.1 (+https://github.com/newsflow/newsflow)"
    """The User-Agent sent with every request."""
    host_delay: float = Field(default=1.0, ge=0)
    """Minimum seconds between two requests to one host, across all workers. 0 disables."""
    host_burst: int = Field(default=1, ge=1)
    """Requests a host that has been left alone may get back to back (token bucket size)."""
    host_max_concurrency: int = Field(default=2, ge=0)
    """Requests in flight at once to one host, across all workers. 0 disables the cap."""
    host_max_wait: float = Field(default=10.0, ge=0)
    """A worker sleeps for a host's next slot up to this many seconds; longer, the work waits in
    the ledger until the host may be asked, instead of holding the worker."""
    host_busy_backoff: float = Field(default=60.0, ge=0)
    """Back-off for a host answering 429 or 503 without Retry-After, in seconds."""
    max_retry_after: float = Field(default=6 * 3600.0, ge=0)
    """A Retry-After longer than this (seconds) is cut to it: a broken header cannot park a
    host for a year."""
    obey_robots: bool = True
    """Fetch, cache and obey robots.txt (Disallow, Allow, Crawl-delay). Only turn it off for
    your own sites."""
    robots_ttl: float = Field(default=86400.0, ge=0)
    """Seconds a fetched robots.txt is trusted before it is fetched again."""
    robots_error_ttl: float = Field(default=600.0, ge=0)
    """Seconds a host whose robots.txt answered 5xx or could not be reached is left alone."""
    max_crawl_delay: float = Field(default=60.0, ge=0)
    """A robots.txt Crawl-delay longer than this (seconds) is cut to it."""
    allow_private_networks: str = ""
    """Comma-separated CIDRs the fetcher may contact besides public addresses, e.g.
    `127.0.0.1/32,10.0.0.0/8`. Empty: public addresses only."""

    max_retries: int = Field(default=5, ge=0)
    """Retries of a transient failure before it is dead-lettered."""
    retry_backoff_max: float = Field(default=600.0, ge=0)
    """Cap of the exponential backoff between two retries, in seconds."""
    visibility_timeout: int = Field(default=900, ge=1)
    """Seconds before kombu itself delivers again a message taken by a vanished worker. Only a
    backstop: no task holds a message longer than one run (retries and deferrals wait in the
    work ledger, not in a worker), and the reconciler restores lost messages much sooner."""
    work_lease: float = Field(default=300.0, gt=0)
    """Seconds a worker may run one work item before the item is presumed lost (its worker hung
    or died unnoticed) and published again. Longer than any fetch or clean can take."""
    work_grace: float = Field(default=20.0, ge=0)
    """Seconds a published item may be missing from the broker (not queued, not held by a
    worker) before the reconciler publishes it again."""
    reconcile_interval: float = Field(default=10.0, gt=0)
    """Seconds between two reconciliations (publish deferred work that is due, restore lost
    messages) by the scheduler; `run` reconciles every second or two on its own."""
    index_patience: float = Field(default=60.0, ge=0)
    """Seconds `run --once` keeps offering pending documents to a search backend that does not
    take them, once all other work is done; then it ends and says how many wait."""
    redis_patience: float = Field(default=300.0, ge=0)
    """Seconds a task, the scheduler or `run` waits for an unreachable Redis before giving up
    (a task then leaves its work to the ledger; `run` stops with a clear message)."""
    worker_restart_limit: int = Field(default=10, ge=1)
    """A worker process that dies is restarted; this many deaths within ten minutes stop `run`."""
    index_batch_size: int = Field(default=200, ge=1)
    """Articles per bulk request to the search backend."""
    index_linger: float = Field(default=0.5, ge=0.0, le=10.0)
    """Seconds an index batch waits for more articles when fewer than a batch are pending, so
    that pages cleaned close together reach the search backend in one request (one commit)
    instead of one each. One batch waits at a time; 0 sends each article as soon as it is
    cleaned."""

    drop_not_articles: bool = False
    """Drop a page the page-kind model reads as not an article (a section front, a forum
    thread, a shop, service or documentation page: `extraction.not_article` of 0.95 or more)
    instead of indexing trafilatura's reading of it. Counted as `dropped:not_article`. Off by
    default: on held-out folds the model read 7 of wcxb-dev's 787 articles so, and a dropped
    article is lost to search."""
    boilerplate_min_pages: int = Field(default=2, ge=1, le=255)
    """Cross-page boilerplate: a block printed on this many distinct pages of a site is dropped.
    Two catches a site's promotions and notes from its second page on (pages cleaned before are
    cleaned again); a page that is mostly blocks printed elsewhere is a copy and keeps them."""
    boilerplate_recent_pages: int = Field(default=200, ge=1)
    """Recent pages per site whose blocks (and process messages) are kept, so that when a block
    crosses the threshold the pages that printed it before are cleaned again."""
    boilerplate_shards: int = Field(default=16, ge=1, le=256)
    """A site's block counts are spread over this many small hashes (see
    `boilerplate_shard_size`)."""
    boilerplate_shard_size: int = Field(default=120, ge=1)
    """Blocks each of a site's hashes holds in each of two generations; the least recently seen
    are forgotten. Up to 128 a hash stays in Redis's compact encoding (hash-max-listpack-entries)."""
    seen_retention_days: float = Field(default=180.0, gt=0)
    """Days a URL (and a feed entry's GUID) is remembered as seen, in about 13 bytes of Redis
    each. An article linked again after longer is fetched again, and still indexed once."""
    neardup_window_days: float = Field(default=30.0, gt=0)
    """Days an article stays in the near-duplicate index: a copy republished within this window
    joins its cluster. Redis holds a few hundred bytes per article for this long."""
    dead_letters_max: int = Field(default=100_000, gt=0)
    """Dead letters kept (the newest); older ones are dropped and counted (`dead_letters_trimmed`)."""

    drift_baseline_pages: int = Field(default=60, gt=0)
    """The drift alarm (a site's redesign): a site's first fresh pages form its baseline, and
    the newest this many are kept. `newsflow drift accept SITE` starts a baseline again."""
    drift_recent_pages: int = Field(default=20, gt=0)
    """Each window of this many new pages of a site is compared with its baseline."""
    drift_length_ratio: float = Field(default=0.5, gt=0, le=1)
    """Alarm when a window's median body length is below this share of the baseline's."""
    drift_no_text_rise: float = Field(default=0.25, gt=0, le=1)
    """Alarm when the share of pages without article text rises by this much (0.25: 25 points)."""
    drift_teaser_ratio: float = Field(default=2.0, ge=1)
    """Alarm when teasers removed per page exceed this many times the baseline's, plus
    `drift_teaser_floor`."""
    drift_teaser_floor: float = Field(default=1.0, ge=0)
    """Added to the teaser threshold, so a site whose pages had no teasers does not alarm on one."""

    log_format: Literal["text", "json"] = "text"
    """Log lines: `text` for people, `json` (one object a line: time, level, message, stage,
    task id, URL, outcome) for a log stack."""
    metrics_dir: Path | None = None
    """Each worker writes prometheus_client's multiprocess files under this directory (unset:
    `<data_dir>/metrics`), which the API's `/metrics` merges on one host."""
    worker_metrics_port: int = Field(default=0, ge=0, le=65535)
    """Also serve each worker's own metrics on this port, for hosts the API cannot see on disk.
    0: off."""

    @field_validator("broker_url")
    @classmethod
    def _check_broker_url(cls, value: str | None) -> str | None:
        scheme, sep, _ = (value or "").partition("://")
        if value and (not sep or scheme not in ("redis", "rediss", "unix")):
            # Only the scheme is shown: the rest may hold a password.
            what = f"{scheme}:// is not Redis" if sep else "not a URL"
            raise ValueError(
                f"NEWSFLOW_BROKER_URL: {what}; name the broker's Redis with a redis://, rediss:// or unix:// URL"
            )
        return value or None

    @field_validator("redis_url")
    @classmethod
    def _check_redis_url(cls, value: str | None) -> str | None:
        scheme, sep, _ = (value or "").partition("://")
        if value and (not sep or scheme not in ("redis", "rediss", "unix")):
            what = f"{scheme}:// is not Redis" if sep else "not a URL"  # the rest may hold a password
            raise ValueError(f"REDIS_URL: {what}; give a redis://, rediss:// or unix:// URL, or unset it")
        return value or None

    @field_validator("elasticsearch_url")
    @classmethod
    def _check_elasticsearch_url(cls, value: str | None) -> str | None:
        scheme, sep, rest = (value or "").partition("://")
        if value and (not sep or scheme not in ("http", "https") or not rest.strip("/")):
            what = f"{scheme}:// is not HTTP" if sep and scheme not in ("http", "https") else "not a URL"
            raise ValueError(f"ELASTICSEARCH_URL: {what}; give the cluster's http:// or https:// URL, or unset it")
        return value or None

    @model_validator(mode="after")
    def _check_intervals(self) -> Self:
        if self.feed_min_interval > self.feed_max_interval:
            raise ValueError(
                f"NEWSFLOW_FEED_MIN_INTERVAL ({self.feed_min_interval:g} s) is above "
                f"NEWSFLOW_FEED_MAX_INTERVAL ({self.feed_max_interval:g} s)"
            )
        return self

    @model_validator(mode="after")
    def _check_cluster(self) -> Self:
        if self.redis_cluster and not self.redis_url:
            raise ValueError(
                "NEWSFLOW_REDIS_CLUSTER: set REDIS_URL to a node of the cluster (the embedded Redis is one)"
            )
        if self.redis_cluster and not self.broker_url:
            raise ValueError(
                "NEWSFLOW_REDIS_CLUSTER: set NEWSFLOW_BROKER_URL to a Redis of the broker's own "
                "(Celery's queues cannot live on a cluster)"
            )
        if self.redis_cluster and (self.redis_url or "").startswith("unix://"):
            raise ValueError(
                "NEWSFLOW_REDIS_CLUSTER: a cluster is reached over TCP: REDIS_URL must be redis:// or rediss://"
            )
        return self

    @field_validator("raw_store")
    @classmethod
    def _check_raw_store(cls, value: str | None) -> str | None:
        if value:
            parse_location(value)
        return value or None

    @field_validator("allow_private_networks")
    @classmethod
    def _check_cidrs(cls, value: str) -> str:
        for part in filter(None, (p.strip() for p in value.split(","))):
            try:
                ipaddress.ip_network(part, strict=False)
            except ValueError as exc:
                raise ValueError(f"NEWSFLOW_ALLOW_PRIVATE_NETWORKS: {part!r} is not a CIDR ({exc})") from None
        return value

    @property
    def allowed_networks(self) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
        parts = filter(None, (p.strip() for p in self.allow_private_networks.split(",")))
        return [ipaddress.ip_network(p, strict=False) for p in parts]

    @property
    def sqlite_path(self) -> Path:
        return self.data_dir / "index.sqlite3"

    @property
    def tantivy_path(self) -> Path:
        return self.data_dir / "index.tantivy"

    @property
    def embedded(self) -> bool:
        return self.redis_url is None

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, _yaml_source(settings_cls))

    @classmethod
    def load(cls, **overrides: Any) -> Settings:
        """Build settings from defaults, the config file and the environment."""
        return cls(**overrides)

    def as_env(self) -> dict[str, str]:
        """Every setting as the environment variable that sets it, for child processes: a
        worker started by `newsflow run` gets the whole settings, overrides included."""
        env: dict[str, str] = {}
        for name in type(self).model_fields:
            value = getattr(self, name)
            if value is None:
                continue
            if isinstance(value, SecretStr):
                value = value.get_secret_value()
            elif isinstance(value, bool):
                value = "true" if value else "false"
            env[f"NEWSFLOW_{name.upper()}"] = repr(value) if isinstance(value, float) else str(value)
        return env

    def public_dict(self) -> dict[str, Any]:
        """Settings safe to print: secrets masked."""
        return self.model_dump(mode="json")


def setting(name: str) -> Any:
    """A field of a small config object that mirrors the setting `name`: its default is the
    setting's, and `SettingsView.from_settings` reads it from the settings."""
    return dataclasses.field(default=default_of(name), metadata={"setting": name})


class SettingsView:
    """For dataclasses whose fields are `setting(...)`: built from `Settings` in one call."""

    @classmethod
    def from_settings(cls, settings: Settings, **extra: Any) -> Self:
        fields = dataclasses.fields(cls)  # type: ignore[arg-type]  # subclasses are dataclasses
        mirrored = {f.name: getattr(settings, f.metadata["setting"]) for f in fields if "setting" in f.metadata}
        return cls(**{**mirrored, **extra})


def default_of(name: str) -> Any:
    """The default of one setting, for the small config objects built from `Settings`, so a
    default is written once, here."""
    field = Settings.model_fields[name]
    return field.default_factory() if field.default_factory is not None else field.default  # type: ignore[call-arg]


def _yaml_source(settings_cls: type[BaseSettings]) -> PydanticBaseSettingsSource:
    """pydantic-settings' YAML source on the file `NEWSFLOW_CONFIG` names (default: the source
    tree's `config/newsflow.yaml`, when present), checked first so that a wrong path or a file
    that is not a mapping is one clear error."""
    path = os.environ.get("NEWSFLOW_CONFIG")
    if not path:
        path = str(DEFAULT_CONFIG_FILE) if DEFAULT_CONFIG_FILE.is_file() else None
    if path is not None:
        try:
            data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
        except OSError as exc:
            raise ValueError(f"NEWSFLOW_CONFIG={path}: cannot read ({exc.strerror})") from None
        except yaml.YAMLError as exc:
            raise ValueError(f"NEWSFLOW_CONFIG={path}: not valid YAML ({exc})") from None
        if data is not None and not isinstance(data, dict):
            raise ValueError(f"NEWSFLOW_CONFIG={path}: expected a mapping of setting names")
    return YamlConfigSettingsSource(settings_cls, yaml_file=path, yaml_file_encoding="utf-8")


def parse_location(value: str) -> tuple[str, str] | None:
    """`s3://bucket/prefix` as (bucket, prefix); None for a directory. A URL of another scheme is refused."""
    scheme, sep, rest = value.partition("://")
    if not sep:
        return None
    if scheme != "s3":
        raise ValueError(f"NEWSFLOW_RAW_STORE: {value!r} is neither a directory nor s3://bucket/prefix")
    bucket, _, prefix = rest.partition("/")
    if not re.fullmatch(r"[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9]", bucket):
        raise ValueError(f"NEWSFLOW_RAW_STORE: {bucket!r} in {value!r} is not an S3 bucket name")
    return bucket, prefix.strip("/")


def describe_invalid(exc: ValidationError) -> str:
    """A settings error in one line, each problem led by the variable that sets it (never its
    value: some hold passwords)."""
    said = []
    for error in exc.errors(include_url=False, include_input=False, include_context=False):
        message = str(error["msg"]).removeprefix("Value error, ")
        name = str(error["loc"][0]) if error["loc"] else ""
        field = Settings.model_fields.get(name)
        if field is None:
            said.append(message)
            continue
        alias = field.validation_alias
        variable = alias.choices[0] if isinstance(alias, AliasChoices) else f"NEWSFLOW_{name.upper()}"
        said.append(message if message.startswith(str(variable)) else f"{variable}: {message[:1].lower()}{message[1:]}")
    return "; ".join(said)

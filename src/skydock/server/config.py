"""Server configuration: one pydantic-settings model, env prefix ``SKYDOCK_``.

Zero configuration works; ``SKYDOCK_DATA_DIR`` moves everything, nested sections use
``__`` (``SKYDOCK_QUERY__TIMEOUT_S=60``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class QueryConfig(BaseModel):
    """Limits for queries answered while the caller waits."""

    model_config = {"extra": "forbid"}

    timeout_s: float = Field(default=600.0, gt=0, description="Seconds before a query is stopped.")
    max_rows: int = Field(
        default=1_000_000, gt=0, description="Rows returned at most; more is flagged."
    )
    memory_limit: str = Field(default="4GB", description="DuckDB memory limit.")
    threads: int | None = Field(
        default=None, gt=0, description="DuckDB threads (all cores if unset)."
    )


class AuthConfig(BaseModel):
    """Tokens and the lockout after wrong passwords."""

    model_config = {"extra": "forbid"}

    token_ttl_hours: float = Field(default=168.0, gt=0, description="Lifetime of a login token.")
    max_failed_logins: int = Field(
        default=5, gt=0, description="Wrong passwords in a row before the account is locked."
    )
    lockout_s: float = Field(
        default=30.0, ge=0, description="First lockout; it doubles with every further failure."
    )
    min_password_chars: int = Field(default=8, ge=1, description="Shortest password accepted.")


class JobsConfig(BaseModel):
    """Async jobs: the worker pool, per-user fairness and how long results are kept."""

    model_config = {"extra": "forbid"}

    workers: int = Field(default=4, gt=0, description="Jobs run at once by this server.")
    per_user: int = Field(
        default=2, gt=0, description="Jobs of one user run at once; the rest wait QUEUED."
    )
    retention_hours: float = Field(
        default=168.0,
        gt=0,
        description="A job and its result are destroyed this long after it was created.",
    )
    archive_hours: float = Field(
        default=720.0,
        ge=0,
        description="An ARCHIVED job's record is deleted this long after its destruction "
        "(0: at once).",
    )
    default_execution_duration_s: int = Field(
        default=3600, gt=0, description="Run time limit of a job that does not ask for one."
    )
    max_execution_duration_s: int = Field(
        default=28800, gt=0, description="The longest run time a job may ask for."
    )
    sweep_interval_s: float = Field(
        default=60.0, gt=0, description="How often expired jobs are looked for."
    )


class MyDBConfig(BaseModel):
    """Personal databases: one DuckDB file per user under ``<data_dir>/mydb``."""

    model_config = {"extra": "forbid"}

    kind: Literal["duckdb"] = "duckdb"
    max_table_rows: int = Field(
        default=100_000_000, gt=0, description="Rows one MyDB table may hold at most."
    )
    max_bytes: int = Field(
        default=20 * 1024**3, gt=0, description="Size a user's MyDB may reach before writes stop."
    )
    max_upload_bytes: int = Field(
        default=2 * 1024**3, gt=0, description="Largest file accepted by a MyDB import."
    )


GIB = 1024**3


class StorageLimits(BaseModel):
    """What every storage backend shares: quotas, the upload cap and signed-URL lifetime."""

    model_config = {"extra": "forbid"}

    quota_bytes: int = Field(default=10 * GIB, gt=0, description="Bytes each user may store.")
    max_upload_bytes: int = Field(
        default=5 * GIB, gt=0, description="Largest single upload (also caps staging files)."
    )
    url_ttl_s: float = Field(
        default=3600.0, gt=0, description="Lifetime of the signed download and upload links."
    )
    url_secret: SecretStr | None = Field(
        default=None,
        description="Key that signs download and upload links; generated once and kept in "
        "data_dir/secrets if unset.",
    )


class LocalStorageConfig(StorageLimits):
    """User files in a local directory (``data_dir/storage`` unless ``root`` is given)."""

    kind: Literal["local"] = "local"
    root: Path | None = Field(default=None, description="Directory holding every user's files.")


class S3StorageConfig(StorageLimits):
    """User files in an S3-compatible object store (AWS, MinIO, Ceph...)."""

    kind: Literal["s3"]
    url: str = Field(pattern=r"^s3://[^/]+(/.*)?$", description="s3://bucket/prefix")
    endpoint_url: str | None = Field(default=None, description="For non-AWS stores.")
    region: str | None = Field(default=None, description="The bucket's region, if needed.")
    key: SecretStr | None = Field(default=None, description="Access key id.")
    secret: SecretStr | None = Field(default=None, description="Secret access key.")


StorageConfig = Annotated[LocalStorageConfig | S3StorageConfig, Field(discriminator="kind")]


class TapConfig(BaseModel):
    """The IVOA TAP service at ``/tap``."""

    model_config = {"extra": "forbid"}

    max_upload_bytes: int = Field(
        default=64 * 1024**2, gt=0, description="Largest table accepted by a TAP upload."
    )
    max_wait_s: float = Field(
        default=60.0, gt=0, description="Longest a UWS WAIT blocks before answering."
    )


class ClassesConfig(BaseModel):
    """Class and demo accounts (``skydock class create``)."""

    model_config = {"extra": "forbid"}

    expiry_check_interval_s: float = Field(
        default=3600.0,
        gt=0,
        description="How often the server wipes and disables expired class accounts.",
    )


class NotebooksConfig(BaseModel):
    """The deployed notebook collection and the webhook that re-deploys it."""

    model_config = {"extra": "forbid"}

    git_url: str | None = Field(
        default=None,
        description="Git remote of the collection; unset: the notebooks/ directory of the "
        "Skydock source tree, copied as it is.",
    )
    branch: str = Field(default="main", description="Branch deployed; pushes to others ignored.")
    webhook_secret: SecretStr | None = Field(
        default=None,
        description="Shared secret of the X-Hub-Signature-256 webhook; the webhook refuses "
        "every delivery while unset.",
    )
    deploy_on_start: bool = Field(
        default=True, description="Deploy at server start when nothing is deployed yet."
    )
    keep_releases: int = Field(
        default=5, ge=1, description="Releases kept on disk (the current one always is)."
    )


class SpectraConfig(BaseModel):
    """Spectra served from ``<data_dir>/spectra`` by ``/api/spectra``."""

    model_config = {"extra": "forbid"}

    max_spectra: int = Field(
        default=5000, gt=0, description="Spectra returned at most by one request."
    )
    default_collection: str = Field(
        default="demo.specobj",
        description="The catalog table whose spectra a request without 'collection' reads.",
    )


class ImagesConfig(BaseModel):
    """Image search (SIA v2) and cutouts (SODA, ``/api/images/cutout``)."""

    model_config = {"extra": "forbid"}

    max_cutout_pixels: int = Field(
        default=4096 * 4096, gt=0, description="Largest cutout, in pixels (width × height)."
    )
    max_size_deg: float = Field(
        default=2.0, gt=0, description="Largest side of a native cutout, in degrees."
    )
    default_maxrec: int = Field(
        default=1000, gt=0, description="Rows of an SIA answer when MAXREC is not given."
    )
    max_maxrec: int = Field(default=100_000, gt=0, description="The most rows MAXREC may ask.")


class Config(BaseSettings):
    """Everything a Skydock server needs to start."""

    model_config = SettingsConfigDict(
        env_prefix="SKYDOCK_", env_nested_delimiter="__", extra="forbid"
    )

    data_dir: Path = Field(default=Path(".skydock"), description="Where everything is stored.")
    database_url: str | None = Field(
        default=None,
        description="Metadata database (SQLAlchemy URL); a SQLite file in data_dir if unset.",
    )
    public_url: str | None = Field(
        default=None,
        description="Base URL clients reach this server at (for download and upload links); "
        "taken from each request if unset.",
    )
    query: QueryConfig = Field(default_factory=QueryConfig)
    auth: AuthConfig = Field(default_factory=AuthConfig)
    jobs: JobsConfig = Field(default_factory=JobsConfig)
    mydb: MyDBConfig = Field(default_factory=MyDBConfig)
    storage: StorageConfig = Field(default_factory=LocalStorageConfig)
    tap: TapConfig = Field(default_factory=TapConfig)
    classes: ClassesConfig = Field(default_factory=ClassesConfig)
    notebooks: NotebooksConfig = Field(default_factory=NotebooksConfig)
    spectra: SpectraConfig = Field(default_factory=SpectraConfig)
    images: ImagesConfig = Field(default_factory=ImagesConfig)

"""Server configuration: one pydantic-settings model, env prefix ``SKYDOCK_``.

Zero configuration works; ``SKYDOCK_DATA_DIR`` moves everything, nested sections use
``__`` (``SKYDOCK_QUERY__TIMEOUT_S=60``).
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, Field
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


class Config(BaseSettings):
    """Everything a Skydock server needs to start."""

    model_config = SettingsConfigDict(
        env_prefix="SKYDOCK_", env_nested_delimiter="__", extra="forbid"
    )

    data_dir: Path = Field(default=Path(".skydock"), description="Where everything is stored.")
    query: QueryConfig = Field(default_factory=QueryConfig)

"""The one place that decides which implementation serves each role."""

from __future__ import annotations

from functools import cached_property

from skydock.engine.catalog import CatalogStore
from skydock.engine.executor import SPILL_DIR, DuckDBExecutor, Limits
from skydock.server.config import Config
from skydock.server.services.query import QueryService


class Factory:
    """Builds the process-wide objects from the configuration, once each."""

    def __init__(self, config: Config) -> None:
        self.config = config

    @cached_property
    def catalog_store(self) -> CatalogStore:
        return CatalogStore.for_data_dir(self.config.data_dir)

    @cached_property
    def executor(self) -> DuckDBExecutor:
        q = self.config.query
        limits = Limits(
            timeout_s=q.timeout_s,
            max_rows=q.max_rows,
            memory_limit=q.memory_limit,
            threads=q.threads,
            temp_directory=self.config.data_dir / SPILL_DIR,
        )
        return DuckDBExecutor(self.catalog_store, limits)

    def query_service(self) -> QueryService:
        return QueryService(self.executor)

    def close(self) -> None:
        if "executor" in self.__dict__:
            self.executor.close()

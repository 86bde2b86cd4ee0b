"""The one place that decides which implementation serves each role."""

from __future__ import annotations

from datetime import timedelta
from functools import cached_property

from skydock.engine.catalog import CatalogStore
from skydock.engine.executor import SPILL_DIR, DuckDBExecutor, Limits
from skydock.server.config import Config
from skydock.server.services.auth import AuthPolicy, AuthService
from skydock.server.services.mydb import MyDBLimits, MyDBService
from skydock.server.services.query import QueryService
from skydock.server.storage.metadata import Database, sqlite_url
from skydock.server.storage.mydb import DuckDBFileMyDB, MyDBBackend


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
        return DuckDBExecutor(self.catalog_store, limits, mydb_root=self.config.data_dir / "mydb")

    @cached_property
    def database(self) -> Database:
        self.config.data_dir.mkdir(parents=True, exist_ok=True)
        db = Database(self.config.database_url or sqlite_url(self.config.data_dir))
        db.upgrade()
        return db

    @cached_property
    def auth(self) -> AuthService:
        a = self.config.auth
        policy = AuthPolicy(
            token_ttl=timedelta(hours=a.token_ttl_hours),
            max_failed_logins=a.max_failed_logins,
            lockout_s=a.lockout_s,
            min_password_chars=a.min_password_chars,
        )
        return AuthService(self.database, policy)

    def auth_service(self) -> AuthService:
        return self.auth

    @cached_property
    def mydb_backend(self) -> MyDBBackend:
        # One kind today (a DuckDB file per user); the config's ``kind`` chooses here.
        return DuckDBFileMyDB(self.executor)

    def mydb_service(self) -> MyDBService:
        m = self.config.mydb
        limits = MyDBLimits(
            max_table_rows=m.max_table_rows,
            max_bytes=m.max_bytes,
            max_upload_bytes=m.max_upload_bytes,
        )
        return MyDBService(self.mydb_backend, self.config.data_dir / "tmp" / "mydb", limits)

    def query_service(self) -> QueryService:
        return QueryService(self.executor, self.mydb_service())

    def start(self) -> None:
        """Work done once before the first request: migrate the metadata database."""
        _ = self.database

    def close(self) -> None:
        if "executor" in self.__dict__:
            self.executor.close()
        if "database" in self.__dict__:
            self.database.close()

"""The one place that decides which implementation serves each role."""

from __future__ import annotations

import logging
import threading
from datetime import timedelta
from functools import cached_property
from pathlib import Path

from skydock.engine.catalog import CatalogStore
from skydock.engine.executor import SPILL_DIR, DuckDBExecutor, Limits
from skydock.engine.images import ImageRegistry
from skydock.engine.spectra import SpectraStore
from skydock.server.config import Config, LocalStorageConfig, S3StorageConfig
from skydock.server.services.auth import AuthPolicy, AuthService
from skydock.server.services.classes import ClassService
from skydock.server.services.images import ImageLimits, ImageService
from skydock.server.services.jobs import JobLimits, JobService
from skydock.server.services.mydb import MyDBLimits, MyDBService
from skydock.server.services.notebooks import NotebookService
from skydock.server.services.query import QueryService
from skydock.server.services.spectra import SpectraLimits, SpectraService
from skydock.server.services.storage import (
    StoragePolicy,
    StorageService,
    load_or_create_secret,
)
from skydock.server.services.tap import TapLimits, TapService
from skydock.server.services.tap_schema import TapSchema
from skydock.server.storage.blobs import BlobStore, FsspecBlobStore
from skydock.server.storage.jobs import JobStore
from skydock.server.storage.metadata import Database, sqlite_url
from skydock.server.storage.mydb import DuckDBFileMyDB, MyDBBackend
from skydock.server.storage.tags import TagStore

STORAGE_DIR = "storage"
STAGING_DIR = "staging"
STORAGE_SECRET = "secrets/storage-url.key"
HOMES_DIR = "home"
NOTEBOOKS_DIR = "notebooks"

log = logging.getLogger(__name__)


class Factory:
    """Builds the process-wide objects from the configuration, once each."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self._first_deploy: threading.Thread | None = None

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

    @cached_property
    def blob_store(self) -> BlobStore:
        backend = self.config.storage
        if isinstance(backend, S3StorageConfig):
            return _s3_blob_store(backend)
        return _local_blob_store(backend, self.config.data_dir)

    @cached_property
    def storage(self) -> StorageService:
        c = self.config.storage
        policy = StoragePolicy(
            quota_bytes=c.quota_bytes, max_upload_bytes=c.max_upload_bytes, url_ttl_s=c.url_ttl_s
        )
        if c.url_secret is not None:
            secret = c.url_secret.get_secret_value().encode()
        else:
            secret = load_or_create_secret(self.config.data_dir / STORAGE_SECRET)
        return StorageService(
            self.blob_store,
            TagStore(self.database),
            policy,
            secret,
            staging_dir=self.config.data_dir / STAGING_DIR,
        )

    def storage_service(self) -> StorageService:
        return self.storage

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

    @cached_property
    def tap_schema(self) -> TapSchema:
        return TapSchema(self.executor)

    def query_service(self) -> QueryService:
        return QueryService(
            self.executor,
            self.mydb_service(),
            storage=self.storage_service(),
            tap_schema=self.tap_schema,
        )

    def tap_service(self) -> TapService:
        t = self.config.tap
        limits = TapLimits(max_upload_bytes=t.max_upload_bytes, max_wait_s=t.max_wait_s)
        return TapService(
            self.query_service(), self.jobs, self.tap_schema, limits, self.storage_service()
        )

    @cached_property
    def spectra_store(self) -> SpectraStore:
        return SpectraStore(self.config.data_dir)

    def spectra_service(self) -> SpectraService:
        s = self.config.spectra
        limits = SpectraLimits(max_spectra=s.max_spectra, default_collection=s.default_collection)
        return SpectraService(self.spectra_store, self.query_service(), limits)

    @cached_property
    def image_registry(self) -> ImageRegistry:
        return ImageRegistry.for_data_dir(self.config.data_dir)

    def image_service(self) -> ImageService:
        i = self.config.images
        limits = ImageLimits(
            max_cutout_pixels=i.max_cutout_pixels,
            default_maxrec=i.default_maxrec,
            max_maxrec=i.max_maxrec,
            max_size_deg=i.max_size_deg,
        )
        return ImageService(self.image_registry, limits)

    @cached_property
    def jobs(self) -> JobService:
        j = self.config.jobs
        limits = JobLimits(
            workers=j.workers,
            per_user=j.per_user,
            retention=timedelta(hours=j.retention_hours),
            archive=timedelta(hours=j.archive_hours),
            default_execution_duration_s=j.default_execution_duration_s,
            max_execution_duration_s=j.max_execution_duration_s,
            sweep_interval_s=j.sweep_interval_s,
        )
        return JobService(JobStore(self.database), self.query_service, self.config.data_dir, limits)

    def job_service(self) -> JobService:
        return self.jobs

    @cached_property
    def classes(self) -> ClassService:
        return ClassService(
            self.auth,
            self.storage_service,
            self.mydb_service,
            self.job_service,
            self.config.data_dir / HOMES_DIR,
            self.config.classes.expiry_check_interval_s,
        )

    def class_service(self) -> ClassService:
        return self.classes

    @cached_property
    def notebooks(self) -> NotebookService:
        n = self.config.notebooks
        secret = n.webhook_secret.get_secret_value().encode() if n.webhook_secret else None
        return NotebookService(
            self.config.data_dir / NOTEBOOKS_DIR,
            git_url=n.git_url,
            branch=n.branch,
            webhook_secret=secret,
            keep_releases=n.keep_releases,
        )

    def notebook_service(self) -> NotebookService:
        return self.notebooks

    def start(self) -> None:
        """Work done once before the first request: migrate the metadata database,
        recover and start the async job workers, start the class-account expiry check
        and, in the background, the first deploy of the notebook collection."""
        _ = self.database
        self.jobs.start()
        self.classes.start()
        if self.config.notebooks.deploy_on_start:
            self._first_deploy = threading.Thread(
                target=self._deploy_notebooks, name="skydock-notebooks-deploy", daemon=True
            )
            self._first_deploy.start()

    def _deploy_notebooks(self) -> None:
        try:
            self.notebooks.deploy_if_missing()
        except Exception as exc:  # the API serves without the collection
            log.warning("notebooks: the first deploy failed: %s", exc)

    def close(self) -> None:
        if self._first_deploy is not None:
            self._first_deploy.join(timeout=60)
        if "classes" in self.__dict__:
            self.classes.close()
        if "jobs" in self.__dict__:
            self.jobs.close()
        if "executor" in self.__dict__:
            self.executor.close()
        if "database" in self.__dict__:
            self.database.close()


def _local_blob_store(c: LocalStorageConfig, data_dir: Path) -> BlobStore:
    from fsspec.implementations.local import LocalFileSystem

    root = (c.root or data_dir / STORAGE_DIR).resolve()
    return FsspecBlobStore(LocalFileSystem(), str(root), renames_atomic=True)


def _s3_blob_store(c: S3StorageConfig) -> BlobStore:
    import s3fs

    client_kwargs = {"endpoint_url": c.endpoint_url, "region_name": c.region}
    fs = s3fs.S3FileSystem(
        key=c.key.get_secret_value() if c.key else None,
        secret=c.secret.get_secret_value() if c.secret else None,
        client_kwargs={k: v for k, v in client_kwargs.items() if v},
        use_listings_cache=False,
        skip_instance_cache=True,
    )
    return FsspecBlobStore(fs, c.url.removeprefix("s3://"), renames_atomic=False)

"""The Skydock Python client: queries, async jobs, storage and MyDB over the native API.

Installs with httpx, pyarrow and pydantic only; pandas, astropy, polars and tqdm are
imported when a result asks for them. Never imports the server or the engine.

    from skydock.client import Client
    c = Client()                      # SKYDOCK_URL / SKYDOCK_TOKEN / ~/.skydock/config.json
    df = c.query(sql="SELECT ra, dec FROM demo.objects LIMIT 10")

Data Lab habits work over one explicit default client:

    from skydock.client import queryClient as qc
    df = qc.query(sql="SELECT ...", fmt="pandas")
"""

from skydock.client.config import DEFAULT_URL
from skydock.client.core import Client, ResultOverflowWarning
from skydock.client.default import default_client, get_svc_url, set_client, set_svc_url
from skydock.client.errors import (
    AuthError,
    BadRequestError,
    ConflictError,
    ForbiddenError,
    JobError,
    NotFoundError,
    QueryError,
    QuerySyntaxError,
    QueryTimeoutError,
    QuotaExceededError,
    ServiceConnectionError,
    SkydockClientError,
    UnknownTableError,
    WaitTimeoutError,
)
from skydock.client.jobs import Job
from skydock.client.spectra import spectra_array, wavelength

__all__ = [
    "DEFAULT_URL",
    "AuthError",
    "BadRequestError",
    "Client",
    "ConflictError",
    "ForbiddenError",
    "Job",
    "JobError",
    "NotFoundError",
    "QueryError",
    "QuerySyntaxError",
    "QueryTimeoutError",
    "QuotaExceededError",
    "ResultOverflowWarning",
    "ServiceConnectionError",
    "SkydockClientError",
    "UnknownTableError",
    "WaitTimeoutError",
    "default_client",
    "get_svc_url",
    "set_client",
    "set_svc_url",
    "spectra_array",
    "wavelength",
]

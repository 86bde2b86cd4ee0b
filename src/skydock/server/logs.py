"""Keep secrets out of the logs.

The Data Lab client puts tokens (``/isValidToken?token=``, ``/logout?token=``) and even
passwords (``/isValidPassword?password=``) in query strings, and uvicorn's access log
writes request lines as they came. This filter masks those values before any handler
sees the record.
"""

from __future__ import annotations

import logging
import re

SECRET_PARAMS = re.compile(
    r"(?P<key>(?:token|password|passwd|pw|secret|key|sig|signature)=)[^&\s\"]*", re.IGNORECASE
)
TOKEN_SHAPE = re.compile(r"\$1\$[^\s&\"']+")


def redact(text: str) -> str:
    return TOKEN_SHAPE.sub("$1$***", SECRET_PARAMS.sub(r"\g<key>***", text))


class RedactSecrets(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if record.args:
            args = record.args if isinstance(record.args, tuple) else (record.args,)
            record.args = tuple(redact(a) if isinstance(a, str) else a for a in args)
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        return True


def install() -> None:
    """Attach the filter to the loggers that print request lines and errors."""
    for name in ("uvicorn.access", "uvicorn.error", "skydock", "httpx"):
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactSecrets) for f in logger.filters):
            logger.addFilter(RedactSecrets())

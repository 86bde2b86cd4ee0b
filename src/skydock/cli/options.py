"""Options shared by every command that touches the data directory."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

DEFAULT_DATA_DIR = ".skydock"


def default_data_dir() -> Path:
    return Path(os.environ.get("SKYDOCK_DATA_DIR", DEFAULT_DATA_DIR))


DataDir = Annotated[
    Path,
    typer.Option(
        "--data-dir",
        help="Where catalogs, databases and user files live (env SKYDOCK_DATA_DIR).",
        default_factory=default_data_dir,
        show_default=".skydock",
    ),
]

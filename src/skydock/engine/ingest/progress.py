"""Progress of an ingest on standard error."""

from __future__ import annotations

import sys
from typing import Any


class Reporter:
    """Progress bars on standard error, or silence."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self._bars: list[Any] = []

    def bar(self, desc: str, total: int | None, unit: str) -> Any:
        from tqdm import tqdm

        bar = tqdm(
            total=total,
            desc=desc,
            unit=unit,
            unit_scale=unit == "rows",
            disable=not self.enabled,
            file=sys.stderr,
            leave=self.enabled,
        )
        self._bars.append(bar)
        return bar

    def note(self, text: str) -> None:
        if self.enabled:
            print(text, file=sys.stderr, flush=True)

    def close(self) -> None:
        for bar in self._bars:
            bar.close()
        self._bars.clear()

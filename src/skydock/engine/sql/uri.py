"""The Data Lab spelling of a MyDB table, ``mydb://t``, turned into ``mydb.t`` before parsing.

Only query text is rewritten: string literals, quoted identifiers and comments keep
``mydb://`` as written (a user may well search a column for that text).
"""

from __future__ import annotations

import re

_PREFIX = "mydb://"
_DOLLAR = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)?\$")


def _ident(ch: str) -> bool:
    return ch.isalnum() or ch in "_$"


def rewrite_mydb_uris(text: str) -> str:
    """``text`` with every ``mydb://`` outside literals and comments replaced by ``mydb.``."""
    if _PREFIX not in text.lower():
        return text
    out: list[str] = []
    n = len(text)
    start = i = 0
    while i < n:
        ch = text[i]
        if ch == "'":
            escapes = i > 0 and text[i - 1] in "eE" and (i < 2 or not _ident(text[i - 2]))
            i = _skip_quoted(text, i, "'", backslash=escapes)
        elif ch == '"':
            i = _skip_quoted(text, i, '"', backslash=False)
        elif text.startswith("--", i):
            end = text.find("\n", i)
            i = n if end < 0 else end + 1
        elif text.startswith("/*", i):
            i = _skip_block_comment(text, i)
        elif ch == "$" and (i == 0 or not _ident(text[i - 1])) and (m := _DOLLAR.match(text, i)):
            end = text.find(m.group(0), m.end())
            i = n if end < 0 else end + len(m.group(0))
        elif (
            ch in "mM"
            and text[i : i + len(_PREFIX)].lower() == _PREFIX
            and (i == 0 or not _ident(text[i - 1]))
        ):
            out.append(text[start:i])
            out.append(text[i : i + 4] + ".")
            i += len(_PREFIX)
            start = i
        else:
            i += 1
    out.append(text[start:])
    return "".join(out)


def _skip_quoted(text: str, i: int, quote: str, *, backslash: bool) -> int:
    """The index just past the literal opening at ``i`` (doubled quotes stay inside)."""
    j = i + 1
    n = len(text)
    while j < n:
        c = text[j]
        if backslash and c == "\\":
            j += 2
            continue
        if c == quote:
            if j + 1 < n and text[j + 1] == quote:
                j += 2
                continue
            return j + 1
        j += 1
    return n


def _skip_block_comment(text: str, i: int) -> int:
    """The index just past the comment opening at ``i``; PostgreSQL's comments nest."""
    depth, j, n = 0, i, len(text)
    while j < n:
        if text.startswith("/*", j):
            depth += 1
            j += 2
        elif text.startswith("*/", j):
            depth -= 1
            j += 2
            if depth == 0:
                return j
        else:
            j += 1
    return n

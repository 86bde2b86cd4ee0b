"""Translate a user's PostgreSQL-flavoured SQL or ADQL into DuckDB SQL.

The pipeline: parse with sqlglot (PostgreSQL dialect, or the ADQL dialect of
``skydock.engine.adql``) → ``guard.validate`` → resolve every table and column against the
catalog metadata (helpful errors, ``*`` expanded into explicit columns, every column
qualified) → rewrite sky geometry (``adql.GeometryRewriter``; cones and crossmatches use
``_healpix_29``) → PostgreSQL semantics DuckDB does not share (``log``, integer division,
``numeric``) → an explicit alias on every select item so DuckDB's output names are the ones
PostgreSQL would give → DuckDB SQL text.

Output names follow PostgreSQL: unquoted identifiers fold to lower case; an unaliased
column keeps its name, an unaliased function call takes the function's name (``count``,
``avg``, ``q3c_dist``), ``x::int`` takes x's name, and anything else is ``?column?``.
ADQL queries are named by the same rules, as PostgreSQL-backed TAP services do.

The stages live in their own modules: ``translation`` (the pipeline and parsing),
``resolve`` with ``scope`` (tables and columns), ``crossmatch`` (the planner the geometry
rewrite consults), ``postgres`` (PostgreSQL semantics) and ``naming`` (output names).
"""

from skydock.engine.sql.scope import Language
from skydock.engine.sql.translation import (
    Translation,
    clear_translation_cache,
    parse,
    translate,
)

__all__ = ["Language", "Translation", "clear_translation_cache", "parse", "translate"]

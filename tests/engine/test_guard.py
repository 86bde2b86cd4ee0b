"""The query guard: everything but one read-only query over known tables is refused.

Each case goes through ``translate`` (parse → guard → resolution), the path every user
query takes, and checks both the error class and that the message names what was refused.
"""

from __future__ import annotations

import re

import pytest
import sqlglot

from skydock.engine import guard
from skydock.engine.catalog import ColumnMeta, TableMeta
from skydock.engine.sql import translate
from skydock.errors import (
    QueryRefusedError,
    QuerySyntaxError,
    SkydockError,
    UnknownTableError,
)

TABLES = [
    TableMeta(
        "demo",
        "objects",
        "ra",
        "dec",
        [ColumnMeta("id", "BIGINT"), ColumnMeta("ra", "DOUBLE"), ColumnMeta("dec", "DOUBLE")],
    ),
    TableMeta(
        "demo", "other", "ra", "dec", [ColumnMeta("ra", "DOUBLE"), ColumnMeta("dec", "DOUBLE")]
    ),
]

READ_ONLY = "only read-only queries are allowed"

STATEMENTS = [
    ("INSERT INTO demo.objects VALUES (1, 2, 3)", "INSERT"),
    ("UPDATE demo.objects SET ra = 1", "UPDATE"),
    ("DELETE FROM demo.objects", "DELETE"),
    ("CREATE TABLE x AS SELECT 1", "CREATE"),
    ("DROP TABLE demo.objects", "DROP"),
    ("ALTER TABLE demo.objects ADD COLUMN y INT", "ALTER"),
    ("COPY demo.objects TO '/tmp/x.csv'", "COPY"),
    ("COPY (SELECT 1) TO '/tmp/x.csv'", "COPY"),
    ("DETACH demo", "DETACH"),
    ("PRAGMA version", "PRAGMA"),
    ("SET threads = 1", "SET"),
    ("RESET threads", "RESET"),
    ("INSTALL httpfs", "INSTALL"),
    ("LOAD httpfs", "LOAD"),
    ("CALL pragma_version()", "CALL"),
    ("VACUUM", "VACUUM"),
    ("CHECKPOINT", "CHECKPOINT"),
    ("USE demo", "USE"),
    ("BEGIN", "TRANSACTION"),
    ("EXPLAIN SELECT 1", "EXPLAIN"),
    ("DESCRIBE demo.objects", "DESCRIBE"),
    ("SHOW TABLES", "SHOW"),
    ("VALUES (1)", "VALUES"),
]


@pytest.mark.parametrize(("text", "named"), STATEMENTS)
def test_statements_other_than_queries_are_refused(text: str, named: str):
    with pytest.raises(QueryRefusedError) as info:
        translate(text, "sql", TABLES)
    assert READ_ONLY in str(info.value)
    assert named in str(info.value)


@pytest.mark.parametrize(
    "text",
    [
        "ATTACH '/etc/passwd' AS p",
        "ATTACH DATABASE '/etc/passwd'",
        "EXPORT DATABASE '/tmp/x'",
        "IMPORT DATABASE '/tmp/x'",
        "SUMMARIZE demo.objects",
    ],
)
def test_statements_the_parser_cannot_read_are_syntax_errors(text: str):
    with pytest.raises(
        QuerySyntaxError, match=r"could not parse the SQL query at line 1, column \d+"
    ):
        translate(text, "sql", TABLES)


def test_adql_duff_query_is_refused():
    with pytest.raises(QueryRefusedError, match="not a statement"):
        translate("DUFF QUERY", "adql", TABLES)


@pytest.mark.parametrize("text", ["", "   ", "-- only a comment", ";"])
def test_empty_query(text: str):
    with pytest.raises(QueryRefusedError, match="empty"):
        translate(text, "sql", TABLES)


@pytest.mark.parametrize(
    "text",
    [
        "SELECT 1; SELECT 2",
        "SELECT 1 /* ; */; DROP TABLE demo.objects",
        "SELECT ra FROM demo.objects; SELECT * FROM read_text('/etc/passwd')",
        "SELECT 1 -- comment\n; SELECT 2",
    ],
)
def test_several_statements_are_refused(text: str):
    with pytest.raises(QueryRefusedError, match="2 statements"):
        translate(text, "sql", TABLES)


def test_comments_never_reach_duckdb():
    text = "SELECT ra -- */ ; SELECT 42; /*\nFROM demo.objects /* x */"
    translation = translate(text, "sql", TABLES)
    assert "42" not in translation.sql and "/*" not in translation.sql
    assert translation.names == ["ra"]


def test_trailing_semicolon_is_fine():
    assert translate("SELECT ra FROM demo.objects;", "sql", TABLES).names == ["ra"]


# --- /etc/passwd in every spelling ----------------------------------------------------

PASSWD = [
    # string literal and quoted identifiers as tables (DuckDB would scan the file)
    ("sql", "SELECT * FROM '/etc/passwd'", UnknownTableError, "'/etc/passwd'"),
    ("adql", "SELECT * FROM '/etc/passwd'", UnknownTableError, "'/etc/passwd'"),
    ("sql", 'SELECT * FROM "/etc/passwd"', UnknownTableError, "'/etc/passwd'"),
    ("adql", 'SELECT * FROM "/etc/passwd"', UnknownTableError, "'/etc/passwd'"),
    ("sql", "SELECT * FROM 'file:///etc/passwd'", UnknownTableError, "file:///etc/passwd"),
    ("sql", "SELECT/**/*/**/FROM/**/'/etc/passwd'", UnknownTableError, "'/etc/passwd'"),
    ("sql", "SELECT * FROM (FROM '/etc/passwd')", UnknownTableError, "'/etc/passwd'"),
    ("sql", "SELECT * FROM demo.objects, '/etc/passwd'", UnknownTableError, "'/etc/passwd'"),
    (
        "sql",
        "SELECT * FROM demo.objects JOIN '/etc/passwd' USING (ra)",
        UnknownTableError,
        "'/etc/passwd'",
    ),
    (
        "sql",
        "SELECT ra FROM demo.objects UNION SELECT * FROM '/etc/passwd'",
        UnknownTableError,
        "'/etc/passwd'",
    ),
    ("sql", "SELECT 1 WHERE 1 = (SELECT * FROM '/etc/passwd')", UnknownTableError, "passwd"),
    ("sql", "WITH p AS (SELECT * FROM '/etc/passwd') SELECT * FROM p", UnknownTableError, "passwd"),
    ("sql", 'SELECT * FROM "／etc／passwd"', UnknownTableError, "passwd"),  # fullwidth solidus
    ("sql", 'SELECT * FROM "\\x2fetc\\x2fpasswd"', UnknownTableError, "passwd"),
    # table functions and file-reading scalar functions
    ("sql", "SELECT * FROM read_text('/etc/passwd')", QueryRefusedError, "read_text()"),
    ("sql", "SELECT * FROM read_csv_auto('/etc/passwd')", QueryRefusedError, "read_csv_auto()"),
    ("sql", "SELECT * FROM read_csv('/etc/passwd', header=false)", QueryRefusedError, "read_csv()"),
    ("sql", "SELECT * FROM read_parquet('/etc/passwd')", QueryRefusedError, "read_parquet()"),
    ("sql", "SELECT * FROM read_json('/etc/passwd')", QueryRefusedError, "read_json()"),
    ("sql", "SELECT * FROM parquet_scan('/etc/passwd')", QueryRefusedError, "parquet_scan()"),
    ("sql", "SELECT * FROM sniff_csv('/etc/passwd')", QueryRefusedError, "sniff_csv()"),
    ("sql", "SELECT read_text('/etc/passwd')", QueryRefusedError, "read_text()"),
    ("sql", "SELECT read_blob('/etc/passwd')", QueryRefusedError, "read_blob()"),
    ("sql", "SELECT pg_read_file('/etc/passwd')", QueryRefusedError, "pg_read_file()"),
    (
        "sql",
        "SELECT (SELECT content FROM read_text('/etc/passwd'))",
        QueryRefusedError,
        "read_text()",
    ),
    (
        "sql",
        "SELECT 1 UNION SELECT content FROM read_text('/etc/passwd')",
        QueryRefusedError,
        "read_text()",
    ),
    (
        "sql",
        "SELECT * FROM demo.objects o JOIN read_text('/etc/passwd') f ON true",
        QueryRefusedError,
        "read_text()",
    ),
    (
        "sql",
        "SELECT * FROM demo.objects, LATERAL read_text('/etc/passwd')",
        QueryRefusedError,
        "LATERAL",
    ),
    (
        "sql",
        "SELECT * FROM demo.objects, LATERAL (SELECT * FROM read_text('/etc/passwd')) x",
        QueryRefusedError,
        "read_text()",
    ),
    (
        "sql",
        "SELECT * FROM (VALUES ('/etc/passwd')) v(f), read_text(v.f)",
        QueryRefusedError,
        "read_text()",
    ),
    ("adql", "SELECT * FROM read_text('/etc/passwd')", QueryRefusedError, "read_text()"),
    # statements and tricks
    ("sql", "COPY (SELECT 1) FROM '/etc/passwd'", QueryRefusedError, "COPY"),
    ("sql", "SELECT 1; SELECT * FROM read_text('/etc/passwd')", QueryRefusedError, "2 statements"),
    ("sql", "SELECT 1 /* ; */; SELECT * FROM '/etc/passwd'", QueryRefusedError, "2 statements"),
    (
        "adql",
        "SELECT TOP 1 ra FROM demo.objects; SELECT * FROM '/etc/passwd'",
        QueryRefusedError,
        "2 statements",
    ),
    (
        "sql",
        'WITH "/etc/passwd" AS (SELECT 1 AS a) SELECT * FROM "/etc/passwd"',
        QueryRefusedError,
        "WITH name '/etc/passwd'",
    ),
    ("sql", "ATTACH '/etc/passwd' AS p", QuerySyntaxError, "could not parse"),
    ("sql", 'SELECT * FROM U&"\\002fetc\\002fpasswd"', QuerySyntaxError, "could not parse"),
    ("sql", "SELECT * FROM U&'\\002fetc\\002fpasswd'", QuerySyntaxError, "could not parse"),
    ("sql", "SELECT * FROM E'\\x2fetc\\x2fpasswd'", QuerySyntaxError, "could not parse"),
    ("sql", "SELECT * FROM $$/etc/passwd$$", QuerySyntaxError, "could not parse"),
    ("sql", "SELECT * FROM glob('/etc/*')", QuerySyntaxError, "could not parse"),
]


@pytest.mark.parametrize(("language", "text", "error", "named"), PASSWD)
def test_etc_passwd_cannot_be_read(language: str, text: str, error: type, named: str):
    with pytest.raises(error) as info:
        translate(text, language, TABLES)  # type: ignore[arg-type]
    assert named in str(info.value)


def test_an_alias_that_looks_like_a_path_is_only_a_name():
    translation = translate('SELECT * FROM demo.objects AS "/etc/passwd"', "sql", TABLES)
    assert translation.names == ["id", "ra", "dec"]
    assert translation.tables == ["demo.objects"]
    assert "read_" not in translation.sql.lower()


# --- tables ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "SELECT * FROM catalog__demo__objects.main.data",  # the executor's attached files
        "SELECT * FROM main.data",
        "SELECT * FROM memory.main.x",
        "SELECT * FROM information_schema.tables",
        "SELECT * FROM pg_catalog.pg_tables",
        "SELECT * FROM duckdb_tables",
        'SELECT * FROM "demo.objects"',
        'SELECT * FROM "Demo".objects',  # quoted names keep their case
    ],
)
def test_only_catalog_tables_are_visible(text: str):
    with pytest.raises(UnknownTableError, match="no table named"):
        translate(text, "sql", TABLES)


@pytest.mark.parametrize(
    "text",
    [
        "SELECT * FROM range(10)",
        "SELECT * FROM generate_series(1, 10)",
        "SELECT * FROM duckdb_settings()",
        "SELECT * FROM pragma_version()",
        "SELECT * FROM query('SELECT 1')",
        "SELECT * FROM query_table('demo.objects')",
        "SELECT * FROM iceberg_scan('/data')",
    ],
)
def test_table_functions_are_refused(text: str):
    name = text.split("FROM ")[1].split("(")[0]
    with pytest.raises(QueryRefusedError, match=rf"function {name}\(\) is not allowed"):
        translate(text, "sql", TABLES)


def test_unqualified_name_shared_by_two_schemas_is_ambiguous():
    tables = [*TABLES, TableMeta("other", "objects", "ra", "dec", [ColumnMeta("ra", "DOUBLE")])]
    with pytest.raises(UnknownTableError, match=r"ambiguous.*demo\.objects, other\.objects"):
        translate("SELECT * FROM objects", "sql", tables)


# --- functions and syntax -------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("SELECT getenv('HOME')", "getenv()"),
        ("SELECT current_setting('threads')", "current_setting()"),
        ("SELECT version()", "version()"),
        ("SELECT pg_sleep(10)", "pg_sleep()"),
        ("SELECT getvariable('x')", "getvariable()"),
        ("SELECT unnest([1, 2])", "unnest()"),
        ("SELECT list_transform([1], x -> x + 1)", "list_transform()"),
        ("SELECT skydock_xmatch_cells(1.0, 2.0, 10)", "skydock_xmatch_cells()"),
        ("SELECT q3c_ellipse_query(1, 2, 3, 4, 5, 6, 7)", "q3c_ellipse_query()"),
        ("SELECT COLUMNS('r.*') FROM demo.objects", "columns()"),
    ],
)
def test_functions_off_the_allow_list_are_refused_by_name(text: str, named: str):
    with pytest.raises(QueryRefusedError, match="function " + re.escape(named)):
        translate(text, "sql", TABLES)


def test_language_specific_functions_say_which_language_has_them():
    with pytest.raises(QueryRefusedError, match=r"q3c_poly_query.*in ADQL use"):
        translate("SELECT q3c_poly_query(1, 2, 3)", "adql", TABLES)
    with pytest.raises(QueryRefusedError, match=r"distance.*needs LANG=ADQL"):
        translate("SELECT DISTANCE(1, 2, 3, 4)", "sql", TABLES)


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("SELECT 1 INTO x", "INTO"),
        ("SELECT ra FROM demo.objects FOR UPDATE", "FOR UPDATE"),
        (
            "WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r) SELECT * FROM r",
            "WITH RECURSIVE",
        ),
        ("SELECT $1", "parameters"),
        ("SELECT ?", "parameters"),
        ("SELECT ra::regclass FROM demo.objects", "REGCLASS"),
        ("SELECT ra::blob FROM demo.objects", "CAST to"),
        ("SELECT * FROM demo.objects USING SAMPLE 10", "SAMPLE"),
        ("SELECT * FROM demo.objects TABLESAMPLE SYSTEM (10)", "TABLESAMPLE"),
        ("SELECT * FROM demo.objects QUALIFY ra > 1", "QUALIFY"),
        ("SELECT * EXCLUDE (ra) FROM demo.objects", "EXCLUDE"),
        ("SELECT 'a' SIMILAR TO 'b'", "SIMILAR TO"),
        ("SELECT {'a': 1}", "struct"),
    ],
)
def test_syntax_off_the_allow_list_is_refused(text: str, named: str):
    with pytest.raises(QueryRefusedError, match=named):
        translate(text, "sql", TABLES)


# --- size limits ----------------------------------------------------------------------


def test_long_query_text_is_refused():
    text = "SELECT ra FROM demo.objects WHERE id IN (" + ", ".join(["1"] * 40_000) + ")"
    assert len(text) > guard.MAX_QUERY_CHARS
    with pytest.raises(QueryRefusedError, match="characters long; the limit is 100,000"):
        translate(text, "sql", TABLES)


def test_query_just_under_the_limit_is_accepted():
    body = ", ".join(["1"] * 30_000)
    text = f"SELECT ra FROM demo.objects WHERE id IN ({body})"
    assert len(text) < guard.MAX_QUERY_CHARS
    assert translate(text, "sql", TABLES).names == ["ra"]


def test_deeply_nested_parentheses_are_refused_before_parsing():
    text = "SELECT " + "(" * 60 + "1" + ")" * 60
    with pytest.raises(QueryRefusedError, match="nests parentheses 60 deep"):
        translate(text, "sql", TABLES)
    ok = "SELECT " + "(" * 20 + "1" + ")" * 20
    assert translate(ok, "sql", TABLES).names == ["?column?"]


def test_parentheses_inside_strings_and_comments_do_not_count():
    text = "SELECT '" + "(" * 80 + "' AS s /* " + "(" * 80 + " */"
    assert translate(text, "sql", TABLES).names == ["s"]


def test_very_deep_expression_trees_are_refused():
    text = "SELECT " + " + ".join(["1"] * 700)
    with pytest.raises(QueryRefusedError, match="nested more than"):
        translate(text, "sql", TABLES)


def test_nul_characters_are_refused():
    with pytest.raises(QueryRefusedError, match="NUL"):
        translate("SELECT 1\x00", "sql", TABLES)


# --- the guard on its own -------------------------------------------------------------


def test_validate_returns_the_single_query():
    statements = sqlglot.parse("SELECT ra FROM demo.objects;", read="postgres")
    root = guard.validate(statements, TABLES)
    assert root.sql() == "SELECT ra FROM demo.objects"


def test_unknown_language_is_refused():
    with pytest.raises(QueryRefusedError, match="unknown query language 'pql'"):
        translate("SELECT 1", "pql", TABLES)  # type: ignore[arg-type]


def test_every_refusal_is_a_skydock_error():
    for _, text, _, _ in PASSWD:
        with pytest.raises(SkydockError):
            translate(text, "sql", TABLES)

"""SQLite and PostgreSQL, migrated, hold the same schema.

The migrations are written once, in SQLite's words, and `statements()` swaps the column
types for PostgreSQL. A type the swap misses, a NOT NULL or a default that one engine reads
differently, an index created on one only: the same code would then behave differently on
each engine, and only the operators of the other would find out. These tests compare the
two schemas as each engine reports them, so the migration that parts them fails here.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from storage import Database
from storage.migrations import MIGRATIONS
from tests.postgres import PostgresServer, fresh_database

# What each schema is read as: "table.column" -> "TYPE [NOT NULL] [DEFAULT]", and
# "index name" -> "table (columns)". Two schemas agree when these are equal.
Schema = dict[str, str]

# PostgreSQL's types, by the SQLite type class each stands in for.
PG_TYPE_CLASS = {
    "bigint": "INTEGER",
    "integer": "INTEGER",
    "smallint": "INTEGER",
    "double precision": "REAL",
    "real": "REAL",
    "text": "TEXT",
    "bytea": "BLOB",
}


def sqlite_type_class(declared: str) -> str:
    """A declared type's class by SQLite's own affinity rules ("Datatypes In SQLite", 3.1),
    so a column is compared by how SQLite stores it, not by its spelling."""
    declared = declared.upper()
    if "INT" in declared:
        return "INTEGER"
    if any(word in declared for word in ("CHAR", "CLOB", "TEXT")):
        return "TEXT"
    if not declared or "BLOB" in declared:
        return "BLOB"
    if any(word in declared for word in ("REAL", "FLOA", "DOUB")):
        return "REAL"
    return "NUMERIC"


def column(type_class: str, not_null: bool, has_default: bool) -> str:
    return type_class + (" NOT NULL" if not_null else "") + (" DEFAULT" if has_default else "")


def index(table: str, columns: list[str]) -> str:
    return f"{table} ({', '.join(columns)})"


async def sqlite_schema(db: Database) -> Schema:
    """Tables and explicitly created indexes; SQLite's own (sqlite_*) and the automatic
    indexes behind PRIMARY KEY and UNIQUE (sqlite_autoindex_*, which have no SQL) left out."""
    schema: Schema = {}
    tables = await db.fetchall(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
    )
    for (table,) in tables:
        rows = await db.fetchall(f"PRAGMA table_info({table})")
        # A lone INTEGER PRIMARY KEY is the rowid: never NULL, though not declared NOT NULL
        # (PostgreSQL makes every primary key column NOT NULL).
        keys = [r for r in rows if r["pk"]]
        rowid = keys[0]["name"] if len(keys) == 1 and keys[0]["type"] == "INTEGER" else None
        for r in rows:
            schema[f"{table}.{r['name']}"] = column(
                sqlite_type_class(r["type"]),
                bool(r["notnull"]) or r["name"] == rowid,
                r["dflt_value"] is not None,
            )
    indexes = await db.fetchall(
        "SELECT name, tbl_name FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL"
    )
    for name, table in indexes:
        columns = await db.fetchall(f"PRAGMA index_info({name})")
        schema[f"index {name}"] = index(table, [c["name"] for c in columns])
    return schema


async def postgres_schema(db: Database) -> Schema:
    """Tables and explicitly created indexes; the bookkeeping `schema_version` and the
    indexes behind PRIMARY KEY and UNIQUE constraints (jobs_pkey, …_key) left out."""
    schema: Schema = {}
    columns = await db.fetchall(
        "SELECT table_name, column_name, data_type, is_nullable, column_default "
        "FROM information_schema.columns "
        "WHERE table_schema = current_schema() AND table_name <> 'schema_version'"
    )
    for r in columns:
        schema[f"{r['table_name']}.{r['column_name']}"] = column(
            PG_TYPE_CLASS.get(r["data_type"], r["data_type"]),
            r["is_nullable"] == "NO",
            r["column_default"] is not None,  # an identity column has none, as on SQLite
        )
    indexes = await db.fetchall(
        "SELECT tablename, indexname, indexdef FROM pg_indexes "
        "WHERE schemaname = current_schema() "
        "AND indexname NOT IN (SELECT conname FROM pg_constraint)"
    )
    for r in indexes:
        # "CREATE INDEX jobs_due ON public.jobs USING btree (status, next_poll_at) [WHERE …]"
        found = re.search(r"USING \w+ \((.*?)\)(?: WHERE |$)", r["indexdef"])
        assert found is not None, r["indexdef"]
        names = [c.strip().strip('"') for c in found[1].split(",")]
        schema[f"index {r['indexname']}"] = index(r["tablename"], names)
    return schema


@pytest.fixture
async def databases(
    tmp_path: Path, postgres_server: PostgresServer
) -> AsyncIterator[tuple[Database, Database]]:
    """A fresh SQLite file and a fresh PostgreSQL database, both opened (so migrated)."""
    sqlite = await Database.open(tmp_path / "veo.sqlite3")
    try:
        postgres = await Database.open(await fresh_database(postgres_server))
        try:
            yield sqlite, postgres
        finally:
            await postgres.close()
    finally:
        await sqlite.close()


async def test_both_engines_migrate_to_the_same_tables_columns_and_indexes(
    databases: tuple[Database, Database],
) -> None:
    sqlite, postgres = databases
    on_sqlite, on_postgres = await sqlite_schema(sqlite), await postgres_schema(postgres)
    # Not two empty readings agreeing: the explicitly created indexes were read.
    assert on_sqlite.get("index jobs_due") == "jobs (status, next_poll_at)"
    differences = [
        f"{what}: SQLite {on_sqlite.get(what, 'missing')}, "
        f"PostgreSQL {on_postgres.get(what, 'missing')}"
        for what in sorted(on_sqlite.keys() | on_postgres.keys())
        if on_sqlite.get(what) != on_postgres.get(what)
    ]
    assert not differences, "the schemas differ:\n" + "\n".join(differences)


async def test_both_engines_report_every_migration_applied(
    databases: tuple[Database, Database],
) -> None:
    for db in databases:
        assert await db.schema_version() == len(MIGRATIONS), db.name

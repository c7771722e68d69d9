"""The one SQL text both engines run: how it is rewritten for each."""

from __future__ import annotations

import pytest

from storage.sql import for_postgresql, for_sqlite, lock_key, pg_args


def test_parameters_become_numbered_and_names_keep_one_number() -> None:
    sql, order = for_postgresql("UPDATE t SET a = :x, b = :y WHERE c = :x")
    assert sql == "UPDATE t SET a = $1, b = $2 WHERE c = $1"
    assert pg_args(order, {"y": 2, "x": 1, "unused": 3}) == [1, 2]
    sql, order = for_postgresql("SELECT ? + ?")
    assert (sql, pg_args(order, (1, 2))) == ("SELECT $1 + $2", [1, 2])


def test_quoted_text_and_casts_are_left_alone() -> None:
    sql, order = for_postgresql("SELECT ':no', \"?\", 'it''s ?', ?::bigint")
    assert sql == "SELECT ':no', \"?\", 'it''s ?', $1::bigint"
    assert order == 1


def test_a_statement_mixing_both_kinds_or_given_the_wrong_values_is_refused() -> None:
    with pytest.raises(ValueError):
        for_postgresql("SELECT ?, :x")
    _, order = for_postgresql("SELECT ?, ?")
    with pytest.raises(ValueError):
        pg_args(order, (1,))
    _, named = for_postgresql("SELECT :x")
    with pytest.raises(TypeError):
        pg_args(named, (1,))


def test_sqlite_drops_row_locks_its_one_writer_makes_needless() -> None:
    assert for_sqlite("SELECT id FROM jobs WHERE x FOR UPDATE SKIP LOCKED") == (
        "SELECT id FROM jobs WHERE x"
    )
    assert for_sqlite("SELECT * FROM jobs WHERE id = ? for update") == (
        "SELECT * FROM jobs WHERE id = ?"
    )


def test_lock_keys_are_signed_64_bit_and_apart_by_kind() -> None:
    member = lock_key(1, 2**62 + 5)
    assert -(2**63) <= member < 2**63
    assert lock_key(1, 7) != lock_key(2, 7)
    assert -(2**63) <= lock_key(200, 2**64 - 1) < 2**63

"""Counting what a request costs the database: statements, and the transactions they
ran in, as the database commits them."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from unittest import mock

from django.db import connection


@dataclass(repr=False)
class Tally:
    """Statements sent, and the transactions they made: each statement sent in
    autocommit is one, and so is each transaction committed or rolled back."""

    statements: list[str] = field(default_factory=list)
    autocommitted: int = 0
    ended: int = 0

    @property
    def queries(self) -> int:
        return len(self.statements)

    @property
    def transactions(self) -> int:
        return self.autocommitted + self.ended

    def __call__(self, execute, sql, params, many, context):
        if not connection.in_atomic_block:
            self.autocommitted += 1
        self.statements.append(sql)
        return execute(sql, params, many, context)

    def __repr__(self) -> str:
        listing = "\n".join(f"  {sql[:120]}" for sql in self.statements)
        return f"{self.transactions} transaction(s), {self.queries} statement(s):\n{listing}"


@contextlib.contextmanager
def tally() -> Iterator[Tally]:
    """Counts on the default connection. For tests without a wrapping test transaction
    (`django_db(transaction=True)`), where commits are real."""
    assert not connection.in_atomic_block, "count transactions outside a test transaction"
    counted = Tally()

    def ending(method):
        def end():
            counted.ended += 1
            return method()

        return end

    with (
        connection.execute_wrapper(counted),
        mock.patch.object(connection, "commit", ending(connection.commit)),
        mock.patch.object(connection, "rollback", ending(connection.rollback)),
    ):
        yield counted

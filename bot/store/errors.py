"""The store's errors: one line each, naming where the store is (host/db or file), never a password."""

from __future__ import annotations

from bot.errors import HelmbotError


class StoreError(HelmbotError):
    """The store cannot be opened, reached, migrated or written (connection, schema, disk, lock timeout)."""


class RecordNotFound(StoreError):
    """An update named a record that does not exist."""


class RecordExists(StoreError):
    """A create collided with a record that already has that identity (id, revision, key)."""

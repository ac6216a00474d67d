"""Errors the storage layer reports to admins: each message says what is wrong and where."""

from __future__ import annotations


class StorageError(Exception):
    """A user error against the configuration database (unknown name, refused change, ...)."""


class NotFound(StorageError):
    pass


class AlreadyExists(StorageError):
    pass


class Refused(StorageError):
    """The change would break a rule or the integrity rules (e.g. removing a number a rule uses)."""


class InvalidValue(StorageError):
    pass

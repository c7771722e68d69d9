"""What every vendor's wire models share."""

from __future__ import annotations

from pydantic import ValidationError, ValidatorFunctionWrapHandler


def or_none(value: object, handler: ValidatorFunctionWrapHandler) -> object:
    """A field we can do without: when it does not read, it is absent, rather than the
    whole answer unreadable (a poll that never reads ends in a lost, paid video).
    Use from a `field_validator(..., mode="wrap")`."""
    try:
        return handler(value)
    except ValidationError:
        return None

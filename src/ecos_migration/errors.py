"""The product's exception hierarchy.

    EcosMigrationError
    ├── ConfigurationError      a configuration file or value is invalid
    ├── InputError              an input file or argument is invalid
    ├── NotFoundError           a device, model, incident or request is not in the store
    ├── StateError              an operation does not apply in the current state
    └── StoreError              the database failed or holds an older schema

Front ends print the message of any of these and exit 1, never a traceback.
Foreign errors are translated at the boundary with ``raise ... from exc``.
"""


class EcosMigrationError(Exception):
    """Base of every error the product raises on purpose."""


class ConfigurationError(EcosMigrationError):
    """A configuration file or value is invalid."""


class InputError(EcosMigrationError):
    """An input file or argument is invalid."""


class NotFoundError(EcosMigrationError):
    """A device, Device Model, incident or request is not in the store."""


class StateError(EcosMigrationError):
    """An operation does not apply in the current state."""


class StoreError(EcosMigrationError):
    """The database failed, or holds a schema this release cannot open."""

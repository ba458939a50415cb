"""Bounds on numbers that operators give, shared by the configuration and the command line.

Kept apart from ``config`` so that the command line can name them without loading pydantic.
"""

# Devices started per day. Far above what two service providers can handle, and small
# enough to fit the store's integer columns.
MAX_DAILY_CAPACITY = 10_000_000

# Simulated days one `run` may cover: ten years, beyond any migration period.
MAX_RUN_DAYS = 3660

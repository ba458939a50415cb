"""Control system for the ECoS Migration of GB smart metering devices."""

__version__ = "0.1.0"

"""zarr-vectors backend keeping a whole store in one SQLite file (``sqlite:///file.db``)."""

__version__ = "0.2.0"

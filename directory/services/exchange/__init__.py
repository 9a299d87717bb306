"""Data in and out of the directory: spreadsheet import (``importer``), shared by web and CLI."""

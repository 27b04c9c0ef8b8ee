"""The ``lapor`` command line."""

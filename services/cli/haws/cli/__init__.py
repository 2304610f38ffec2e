"""The ``haws`` console command: one entry point for every service and ``haws up``."""

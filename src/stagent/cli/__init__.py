"""The ``stagent`` command line: a thin shell over the `Workspace`, one module per group."""

"""Executes tasks on runtimes, durably (DBOS), and recovers work from dead processes."""

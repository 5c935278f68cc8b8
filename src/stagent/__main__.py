"""Allow ``python -m stagent``."""

from stagent.cli.app import main

main()

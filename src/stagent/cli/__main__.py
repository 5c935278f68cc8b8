"""Allow ``python -m stagent.cli`` (the same command as ``stagent`` and ``python -m stagent``)."""

from stagent.cli.app import main

main()

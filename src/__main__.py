"""`python -m pytrue`."""

from pytrue.entrypoints.cli import main

main()

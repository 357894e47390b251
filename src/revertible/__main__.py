"""`python -m revertible`: the command line."""

from .cli import main

main()

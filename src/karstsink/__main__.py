"""``python -m karstsink`` runs the CLI."""

from karstsink.cli import main

main()

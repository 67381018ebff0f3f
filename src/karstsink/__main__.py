"""``python -m karstsink`` runs the CLI."""

from karstsink._entry import run

run()

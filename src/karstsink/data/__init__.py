"""Tables shipped with karstsink (read with importlib.resources); provenance in README.md."""

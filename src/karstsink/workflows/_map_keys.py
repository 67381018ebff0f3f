"""The map stage's messages in a run's keys.

A ``karstsink map`` configuration has sections ``[grid]``, ``[inputs]``, ``[zones]``...;
inside ``karstsink run`` they are ``[map.grid]``, ``[map.inputs]``, ``[map.zones]``, and
the carbon-accounting keys of ``[model]`` are set in ``[carbon]``.  The rule is the run
configuration's own (:func:`karstsink.config.map_keys_in_run`); here it is applied to the
map stage's errors (:func:`map_keys`) and warnings and assumptions (:func:`map_text`).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from ..config import map_keys_in_run
from ..exceptions import KarstSinkError

__all__ = ["map_keys", "map_text"]


def map_text(text: str) -> str:
    """A message of the map stage with its keys as a run configuration writes them:
    ``[grid] like`` -> ``[map.grid] like``, ``[model] so4_mmol_l`` -> ``[carbon] so4_mmol_l``."""
    return map_keys_in_run(text)


@contextlib.contextmanager
def map_keys() -> Iterator[None]:
    """Re-raise the map stage's errors with their keys as a run configuration writes
    them: ``[zones] field 'x' ...`` -> ``[map.zones] field 'x' ...`` (same error type)."""
    try:
        yield
    except KarstSinkError as err:
        text = map_text(str(err))
        if text == str(err):
            raise
        raise type(err)(text) from err

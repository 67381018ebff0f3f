"""The map stage's messages in a run's keys.

A ``karstsink map`` configuration has sections ``[grid]``, ``[inputs]``, ``[zones]``...;
inside ``karstsink run`` they are ``[map.grid]``, ``[map.inputs]``, ``[map.zones]``, and
the carbon-accounting keys of ``[model]`` are set in ``[carbon]``.  The rule is the map
configuration's own (:func:`karstsink.mapping.config.keys_in_run`, here :func:`map_text`,
which also names the map's assumptions in a run); here it is applied to the map stage's
errors (:func:`map_keys`) and warnings.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from ..exceptions import KarstSinkError
from ..mapping.config import keys_in_run as map_text

__all__ = ["map_keys", "map_text"]


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

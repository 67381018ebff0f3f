"""The seed of every random draw in karstsink: the user's, or a fresh one that is recorded.

A Monte Carlo or bootstrap interval can only be reproduced from its seed, so a run
without one draws a fresh seed here and writes that number into its metadata
(never ``null``).
"""

from __future__ import annotations

import numpy as np

from ._checks import is_whole


def resolve_seed(seed: int | None) -> int:
    """``seed`` itself, or a fresh one from the operating system's entropy.

    Parameters
    ----------
    seed : int or None
        The seed the user gave (``None``: none).

    Returns
    -------
    int
        The seed to use and to record: 0 <= seed < 2**32 when drawn, so that it
        survives JSON and spreadsheets exactly.
    """
    if seed is not None:
        check_seed(seed)
        return int(seed)
    return int(np.random.SeedSequence().generate_state(1)[0])


def seed_problem(seed: object) -> str | None:
    """What is wrong with ``seed`` as a seed of numpy's random generator, or None.

    The one wording of the rule, for the API (:func:`check_seed`) and the run
    configuration's ``seed`` keys.
    """
    if not is_whole(seed) or seed < 0:  # type: ignore[operator]
        return (f"must be a whole number 0 or more (a seed of numpy's random generator), "
                f"not {seed!r}")
    return None


def draws_problem(count: object, *, allow_none: bool = False) -> str | None:
    """What is wrong with ``count`` as a number of random draws or replicates, or None.

    At least 2: one draw is its own 2.5th and 97.5th percentile, an interval of
    width 0 (``allow_none``: 0, no draws, too).  The one wording of the rule, for
    the speciation draws, the bootstrap replicates and the TOML ``draws`` keys.
    """
    if is_whole(count) and (count >= 2 or (allow_none and count == 0)):  # type: ignore[operator]
        return None
    return (f"must be a whole number of at least 2{' (0 for none)' if allow_none else ''}, "
            f"not {count!r}")


def check_seed(seed: object, where: str = "seed") -> None:
    """Refuse a seed numpy cannot take (a negative or non-whole number), naming ``where``.

    Raises
    ------
    karstsink.exceptions.ConfigError
        ``seed`` is not a whole number >= 0.
    """
    from .exceptions import ConfigError

    problem = seed_problem(seed)
    if problem:
        raise ConfigError(f"{where} {problem}.")

"""The option rules of ``karstsink flux`` and :func:`karstsink.workflows.catchment.run_flux`.

Which options go with which ``--method``, and which sink shares need which companion
column: one rule book, read by the CLI before any file is read and by ``karstsink run``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..exceptions import DataError

#: The ``karstsink flux`` options that one ``--method`` alone reads (an option of another
#: method is refused, never ignored).
METHOD_ONLY_OPTIONS: dict[str, tuple[str, ...]] = {
    "wrtds": ("--bootstrap", "--seed", "--jobs", "--min-obs", "--min-uncen"),
    "loadest": ("--model", "--extra"),
    "direct": ("--proxy",),
}

#: The sink options that act on a companion flux, by the option naming its column, with what
#: that column holds: without the column the option cannot apply (refused, never ignored).
SOURCE_OPTIONS: dict[str, tuple[str, tuple[str, ...]]] = {
    "--so4": ("SO4", ("--acid-so4-share", "--evaporite-so4-share")),
    "--no3": ("NO3", ("--acid-no3-share",)), "--toc": ("TOC", ("--bcp-share",))}
#: The same by keyword: share (``bcp_share``) -> (its column's keyword ``toc``, what it holds).
SHARE_COLUMNS: dict[str, tuple[str, str]] = {
    share[2:].replace("-", "_"): (option[2:], what)
    for option, (what, names) in SOURCE_OPTIONS.items() for share in names}


def shares_with_columns(entry: Mapping[str, Any]) -> dict[str, Any]:
    """The shares of a run's catchment ``entry`` (``[carbon]``'s or its own) whose column
    it names, for :func:`run_flux`: a share without its column cannot apply."""
    return {share: entry[share] for share, (column, _) in SHARE_COLUMNS.items()
            if entry.get(column)}


class FluxOptionError(DataError):
    """Estimator options that do not go together (:func:`check_method_options`)."""


def _is_given(value: Any) -> bool:
    return value is not None and not (isinstance(value, (list, tuple)) and not value)


def check_method_options(method: str, given: Mapping[str, Any], *,
                         model: int | str | None = None) -> None:
    """Refuse options that the run would not use.

    The one rule of ``karstsink flux`` (before any file is read) and
    :func:`run_flux` (``karstsink run``): LOADEST ``--extra`` regressors need
    model 99 (or 0, which then becomes 99), since models 1-9 have fixed terms;
    each option of :data:`METHOD_ONLY_OPTIONS` only goes with its method; and each
    share of :data:`SOURCE_OPTIONS` needs its column (``--bcp-share`` needs ``--toc``).

    Parameters
    ----------
    method : str
        The estimator (``loadest``, ``rating``, ``direct``, ``wrtds``).
    given : mapping
        Options by their ``karstsink flux`` name (``"--extra"``) and value; a value
        of None (or an empty list) was not given. Only these are checked.
    model : int or str, optional
        The LOADEST model number the ``--extra`` regressors would go with
        (None or 0: chosen, 99: with regressors).

    Raises
    ------
    FluxOptionError
        With a one-line message naming the options (the CLI's usage error).
    """
    if _is_given(given.get("--extra")) and model not in (None, 0, 99, "0", "99"):
        raise FluxOptionError(f"--extra needs --model 99 (or 0), not {model}: LOADEST "
                              "models 1-9 have fixed terms.")
    for owner, names in METHOD_ONLY_OPTIONS.items():
        named = [n for n in names if _is_given(given.get(n))]
        if named and method != owner:
            verb = "applies" if len(named) == 1 else "apply"
            hint = " (use --extra for LOADEST)" if "--proxy" in named else ""
            raise FluxOptionError(f"{' and '.join(named)} {verb} to --method {owner} "
                                  f"only{hint}.")
    for source, (what, names) in SOURCE_OPTIONS.items():
        named = [n for n in names if _is_given(given.get(n))]
        if named and not _is_given(given.get(source)):
            verb, them = ("applies", named[0]) if len(named) == 1 else ("apply", "them")
            raise FluxOptionError(
                f"{' and '.join(named)} {verb} to the {what} flux of {source} only: name "
                f"the {what} column of the samples with {source} (e.g. {source} "
                f"{source[2:]}), or leave {them} out.")

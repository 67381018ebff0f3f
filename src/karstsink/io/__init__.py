"""Reading and writing files: the only code of karstsink that knows file formats.

Modules (import them directly; this package imports nothing, so that the map
workers, which read land-cover tables with :mod:`.text` and :mod:`.cells`, never
load pandas):

- :mod:`karstsink.io.text`: the one table reader (encoding, delimiter, CSV/XLSX
  rows of text).
- :mod:`karstsink.io.cells`: the one cell parser (numbers, detection limits,
  decimal commas per column) and date parser (day/month order per column).
- :mod:`karstsink.io.headers`: the one header-and-unit matcher over the alias
  table ``karstsink/data/aliases.csv``.
- :mod:`karstsink.io.samples`: field samples into the canonical table
  (:func:`~karstsink.io.samples.read_samples`, ``standardize``), with
  :mod:`karstsink.io.samples_long` for long (WQP) tables.
- :mod:`karstsink.io.flux_samples`: one constituent's samples for flux
  estimation, from the same canonical table.
- :mod:`karstsink.io.discharge`: discharge records into daily means.
- :mod:`karstsink.io.emissions`: emission series.
- :mod:`karstsink.io.atomic`: atomic file and folder output.

Rasters, zones and COG output are in :mod:`karstsink.mapping`.
"""

"""Matplotlib figures (each function takes ``ax=`` and returns its Figure) and map quick looks.

``plots.flux`` (C-Q, flux series with its interval, residuals), ``plots.trends``
(flow-normalised series, trend bars, WRTDS surfaces), ``plots.chemistry`` (SI against
pCO2), ``plots.maps`` (Pillow quick looks of the sink rasters).
"""

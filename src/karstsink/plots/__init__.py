"""Matplotlib figures: C-Q and flux series (``plots.flux``), map quicklooks (``plots.maps``)."""

"""Spectral viewer, sky maps and cutout display (arrive with the images and spectra issue)."""

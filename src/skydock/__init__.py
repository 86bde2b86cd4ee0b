"""Skydock: a data-proximate science platform for astronomy."""

__version__ = "0.1.0"

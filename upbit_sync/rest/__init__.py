"""Upbit's REST API (``RestClient``), one module per area over one transport; see ``client``."""

from __future__ import annotations

from .client import RestClient

__all__ = ["RestClient"]

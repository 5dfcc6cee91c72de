"""Stand-ins for modules a package imports eagerly but dflab never uses: moved to `dflab.lazy_modules` (audio
uses them too); the names stay importable from here."""

from __future__ import annotations

from dflab.lazy_modules import MEDIAPIPE_DRAWING, DeferredModule, deferred, load_real

__all__ = ["MEDIAPIPE_DRAWING", "DeferredModule", "deferred", "load_real"]

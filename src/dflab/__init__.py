"""dflab: the deepfake lab. Make, detect and trace synthetic media.

The package import is cheap on purpose: heavy libraries (torch, mediapipe, dlib, PyAV) load lazily
inside the modules that need them.
"""

from dflab.errors import (
    BadMedia,
    DflabError,
    IntegrityError,
    LimitExceeded,
    NoFace,
    NotFound,
    Unsupported,
    UsageError,
)

__version__ = "0.1.0"
__all__ = ["DflabError", "IntegrityError", "BadMedia", "NoFace", "NotFound", "Unsupported", "LimitExceeded", "UsageError", "__version__"]

"""One exception root for the whole library; the CLI turns every DflabError into one line and exit code 2."""


class DflabError(Exception):
    """Base of every error dflab raises on purpose. The message is written for the person at the terminal."""


class UsageError(DflabError):
    """The command was called wrongly (bad option value, output that already exists, ...)."""


class NotFound(DflabError):
    """A path, record or model that was named does not exist."""


class BadMedia(DflabError):
    """The file is not decodable media: truncated, empty, corrupt, or mislabelled."""


class PartialMedia(BadMedia):
    """Media that decodes only in part: cut short, or with packets the decoder cannot read (Limits.allow_partial)."""


class Unsupported(DflabError):
    """Valid input that dflab does not handle (format, codec, stream layout)."""


class LimitExceeded(DflabError):
    """Input larger than an explicit limit (pixels, duration, upload size)."""


class NoFace(DflabError):
    """An operation that needs a face found none."""


class IntegrityError(DflabError):
    """Stored or signed data failed verification (ledger, proof, checkpoint, manifest)."""


class WorkerFailed(DflabError):
    """A process dflab started for part of its work (e.g. the identity embeddings of a scan) failed or stopped
    answering."""

"""Typed settings. Passed in explicitly; environment variables only provide defaults."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


HOME_ENV = "DFLAB_HOME"
DATABASE_URL_ENV = "DFLAB_DATABASE_URL"


def dflab_home() -> Path:
    """Where keys, the ledger and the registry live (`DFLAB_HOME`, default ~/.dflab)."""
    return Path(os.environ.get(HOME_ENV, Path.home() / ".dflab")).expanduser()


@dataclass(frozen=True)
class LabConfig:
    """Where the lab keeps its state; `dflab.lab.Lab.from_config` builds the stores from it.

    database_url: None keeps everything in SQLite under `home` (the default). "sqlite:///PATH" names another
    SQLite file. "postgresql://..." keeps the ledger and the registry in PostgreSQL (docs/stores.md).
    Keys and blobs (the registry's index caches) always live under `home`.
    """

    home: Path
    database_url: str | None = None

    @classmethod
    def from_env(cls) -> LabConfig:
        """`DFLAB_HOME` (default ~/.dflab) and `DFLAB_DATABASE_URL` (default: SQLite under the home)."""
        return cls(home=dflab_home(), database_url=os.environ.get(DATABASE_URL_ENV) or None)

    def environment(self, base: dict[str, str]) -> dict[str, str]:
        """`base` with this config's variables set, so that a child process's `from_env()` gives this config."""
        env = {**base, HOME_ENV: str(self.home)}
        if self.database_url:
            env[DATABASE_URL_ENV] = self.database_url
        else:
            env.pop(DATABASE_URL_ENV, None)
        return env

    @property
    def database_path(self) -> Path:
        """The SQLite file holding the ledger and the registry tables (one file: one transaction for both)."""
        return self.home / "ledger.sqlite"

    @property
    def keys_dir(self) -> Path:
        return self.home / "keys"

    @property
    def blob_dir(self) -> Path:
        """Files that are not rows: the registry's FAISS caches (under registry/)."""
        return self.home

    @property
    def registry_dir(self) -> Path:
        return self.blob_dir / "registry"


def default_config() -> LabConfig:
    """The configuration from the environment (what `dflab` commands use)."""
    return LabConfig.from_env()


@dataclass(frozen=True)
class Limits:
    """Explicit bounds on what dflab will decode. Anything larger is refused with LimitExceeded."""

    max_pixels: int = 50_000_000  # per image or frame (about 8K x 6K)
    max_duration_s: float = 3600.0  # one hour of video or audio
    max_file_bytes: int = 4 * 1024**3  # 4 GiB on disk / per upload
    max_analysis_frames: int = 1800  # frames kept for analysis; long clips are sampled more sparsely
    min_side: int = 16  # pictures and video frames narrower or lower than this are refused (no cue works on them)
    # Media that decodes only in part (cut short, or with damaged packets) is refused unless this is set; with
    # it, what decodes is used and Media.meta says complete=False (docs/validation.md).
    allow_partial: bool = False


@dataclass(frozen=True)
class SamplingPolicy:
    """Which video frames are analysed: every frame of short clips, a fixed rate for long ones."""

    all_frames_up_to_s: float = 20.0
    rate_fps: float = 10.0
    max_side: int = 1280  # frames larger than this are downscaled for analysis (720p stays as is)
    # Faces (landmarks, identity) are tracked in at most this many frames per second; cues that need
    # consecutive frames (speed, cuts' picture change) still get every frame. docs/performance.md.
    face_rate_fps: float | None = 15.0

    def __post_init__(self) -> None:
        bad_face_rate = self.face_rate_fps is not None and not self.face_rate_fps > 0
        if self.rate_fps <= 0 or self.all_frames_up_to_s < 0 or self.max_side < 64 or bad_face_rate:
            from dflab.errors import UsageError

            raise UsageError("sampling policy: rates must be > 0, all-frames duration >= 0, max side >= 64")

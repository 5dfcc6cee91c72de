"""Matplotlib figures as self-contained data URIs, so every HTML report is one file."""

from __future__ import annotations

import base64
import io


def new_figure(width_in: float = 8.0, height_in: float = 2.6):
    """A figure on the non-interactive Agg backend (no display on servers)."""
    import matplotlib

    matplotlib.use("Agg", force=True)
    from matplotlib.figure import Figure  # Figure without pyplot: no global state, thread-safe

    return Figure(figsize=(width_in, height_in), dpi=100, layout="constrained")


def figure_to_data_uri(fig) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def image_to_data_uri(rgb, quality: int = 85) -> str:
    """An RGB uint8 array as an inline JPEG."""
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, format="JPEG", quality=quality)
    return "data:image/jpeg;base64," + base64.b64encode(buf.getvalue()).decode("ascii")

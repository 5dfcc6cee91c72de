"""The pictures of a scan report: score timeline, eye-aspect-ratio curve, key frames with heat maps."""

from __future__ import annotations

import cv2
import numpy as np

from dflab.detect.verdict import MANIPULATED_AT, SUSPICIOUS_AT
from dflab.report.figures import figure_to_data_uri, image_to_data_uri, new_figure

VERDICT_BANDS = ((0.0, SUSPICIOUS_AT, "#e8f5e9"), (SUSPICIOUS_AT, MANIPULATED_AT, "#fff8e1"), (MANIPULATED_AT, 1.0, "#ffebee"))


def score_timeline(result) -> str | None:
    times, scores = result.timeline_times, result.timeline_scores
    if len(times) < 2:
        return None
    fig = new_figure()
    ax = fig.add_subplot()
    for low, high, colour in VERDICT_BANDS:
        ax.axhspan(low, high, color=colour, zorder=0)
    ax.plot(times, scores, color="#c62828", lw=1.8, label="fused score")
    for ev in result.evidence:
        series = ev.series.get("score")
        if series is not None and ev.times is not None and len(ev.times) > 1 and ev.confidence > 0:
            ax.plot(ev.times, series, lw=0.8, alpha=0.6, label=ev.name)
    for face in result.faces:
        ax.hlines(-0.04, *face.time_range, lw=4, color="#1565c0")
    ax.set_ylim(-0.08, 1.02)
    ax.set_xlabel("time (s)")
    ax.set_ylabel("P(manipulated)")
    ax.legend(loc="upper right", fontsize=7, ncol=4)
    ax.set_title("Score over time (blue bars: face tracks)", fontsize=9)
    return figure_to_data_uri(fig)


def ear_curve(result) -> str | None:
    blink = next((e for e in result.evidence if e.name == "blink" and "ear" in e.series), None)
    if blink is None or blink.times is None or len(blink.times) < 2:
        return None
    fig = new_figure()
    ax = fig.add_subplot()
    ax.plot(blink.times, blink.series["ear"], color="#37474f", lw=1.2, label="eye aspect ratio")
    threshold = blink.details.get("blink_threshold")
    if threshold:
        ax.axhline(threshold, color="#ef6c00", ls="--", lw=1, label="blink threshold")
    for i, (start, end) in enumerate(blink.details.get("blinks", [])):
        ax.axvspan(start, end, color="#42a5f5", alpha=0.35, label="blink" if i == 0 else None)
    ax.set_xlabel("time (s)")
    ax.set_ylabel("EAR")
    ax.legend(loc="lower right", fontsize=7)
    ax.set_title(blink.summary, fontsize=8)
    return figure_to_data_uri(fig)


def key_frames(result, max_frames: int = 3) -> list[tuple[str, str]]:
    """(data URI, caption) for the most suspicious frames, with face boxes and the strongest heat map.

    Drawn from the result alone: its key frames (small JPEGs, most telling first), face boxes and the
    downscaled heat map."""
    from dflab.detect.keyframes import strongest_heatmap

    best_map = strongest_heatmap(result.evidence)
    out = []
    for key in result.key_frames[:max_frames]:
        frame = key.rgb().copy()
        caption = f"t = {key.time_s:.2f} s"
        if best_map is not None and key.frame_pos == best_map.heatmap_frame:
            frame = overlay_heatmap(frame, best_map.heatmap)
            caption += f", heat map: {best_map.name}"
        if key.frame_pos < len(result.timeline_scores):
            caption += f", score {result.timeline_scores[key.frame_pos]:.2f}"
        draw_faces(frame, result.face_boxes, key.frame_pos, key.scale)
        out.append((image_to_data_uri(frame), caption))
    return out


def overlay_heatmap(frame: np.ndarray, heatmap: np.ndarray, alpha: float = 0.55) -> np.ndarray:
    """The heat map (any size: it is stretched over the frame) blended onto the frame in JET colours."""
    heat = np.clip(np.asarray(heatmap, dtype=np.float32), 0, 1)
    if heat.shape != frame.shape[:2]:
        heat = cv2.resize(heat, (frame.shape[1], frame.shape[0]), interpolation=cv2.INTER_LINEAR)
    coloured = cv2.applyColorMap((heat * 255).astype(np.uint8), cv2.COLORMAP_JET)[:, :, ::-1]
    weight = (alpha * heat)[..., None]
    return (frame * (1 - weight) + coloured * weight).astype(np.uint8)


def draw_faces(frame: np.ndarray, face_boxes, pos: int, scale: float = 1.0) -> None:
    """Outline every face seen in analysed frame `pos`; `scale` maps analysis pixels to `frame` pixels."""
    thickness = max(2, frame.shape[1] // 400)
    for track in face_boxes:
        box = track.at(pos)
        if box is None:
            continue
        x0, y0, x1, y1 = (int(v * scale) for v in box)
        cv2.rectangle(frame, (x0, y0), (x1, y1), (0, 230, 118), thickness)
        cv2.putText(frame, f"#{track.track_id}", (x0, max(12, y0 - 6)), cv2.FONT_HERSHEY_SIMPLEX,
                    0.5 * thickness, (0, 230, 118), thickness)

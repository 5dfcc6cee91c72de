"""Per-frame face finding: 478 landmarks for every face in one RGB frame.

Two MediaPipe paths, combined:
- FaceMesh on the whole frame (tracking mode for video): fast (~2-3 ms) but its built-in short-range
  detector only sees faces that fill a good part of the frame;
- the full-range face detector (finds faces down to ~20 px), then FaceMesh on a square crop around each
  detection, scaled to 256 px ("crop mesh"). Faces found this way in a video are followed on the next
  frames by re-meshing a crop around their last landmarks, the way MediaPipe tracks internally.
Frames larger than `max_side` are analysed on a downscaled copy (crops are cut from the full frame).
All landmarks come back in pixels of the frame given: (x*W, y*H, z*W).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dflab.faces import models

DETECT_CROP_EXPAND = 2.0  # crop side / detection-box side (the detector box spans brows to mouth)
TRACK_CROP_EXPAND = 1.5  # crop side / landmark-box side (as MediaPipe's own landmark-to-ROI step)
DEFAULT_MAX_SIDE = 1280
DETECT_MAX_SIDE = 480  # the detector's input is 192 px: feeding it more only costs conversion time
TILE_FRACTION = 0.6


@dataclass
class FoundFace:
    landmarks: np.ndarray  # (478, 3) float32 pixels of the frame
    score: float
    from_crop: bool  # found by detector + crop mesh (must be followed by crop meshing in video)

    @property
    def box(self) -> tuple[float, float, float, float]:
        return landmark_box(self.landmarks)


def landmark_box(landmarks: np.ndarray) -> tuple[float, float, float, float]:
    xy = landmarks[:, :2]
    x0, y0 = xy.min(axis=0)
    x1, y1 = xy.max(axis=0)
    return float(x0), float(y0), float(x1), float(y1)


def box_iou(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def _centre_inside(box: tuple[float, ...], outer: tuple[float, ...]) -> bool:
    cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    return outer[0] <= cx <= outer[2] and outer[1] <= cy <= outer[3]


def downscale(rgb: np.ndarray, max_side: int) -> tuple[np.ndarray, float]:
    """A copy no larger than max_side on its long side, and the factor applied (1.0 = untouched)."""
    h, w = rgb.shape[:2]
    scale = min(1.0, max_side / float(max(h, w)))
    if scale >= 1.0:
        return rgb, 1.0
    import cv2  # noqa: PLC0415

    small = cv2.resize(rgb, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA)
    return small, scale


def _landmarks_array(face_landmarks, width: float, height: float) -> np.ndarray:
    pts = np.array([(p.x, p.y, p.z) for p in face_landmarks.landmark], dtype=np.float32)
    pts[:, 0] *= width
    pts[:, 1] *= height
    pts[:, 2] *= width
    return pts


def mesh_whole_frame(graph, rgb: np.ndarray, scale: float) -> list[np.ndarray]:
    """Landmarks of every face FaceMesh finds in `rgb` (already downscaled by `scale`), in full-frame pixels."""
    h, w = rgb.shape[:2]
    result = models.run_graph(graph, rgb)
    out = []
    for face in result.multi_face_landmarks or []:
        pts = _landmarks_array(face, w, h)
        if scale != 1.0:
            pts /= scale
        out.append(pts)
    return out


def _detect_once(rgb: np.ndarray, x_off: float = 0.0, y_off: float = 0.0) -> list[tuple[tuple[float, ...], float]]:
    small, scale = downscale(rgb, DETECT_MAX_SIDE)
    h, w = small.shape[:2]
    result = models.run_graph(models.model("detector"), np.ascontiguousarray(small))
    boxes = []
    for det in result.detections or []:
        rb = det.location_data.relative_bounding_box
        x0, y0 = rb.xmin * w / scale + x_off, rb.ymin * h / scale + y_off
        box = (x0, y0, x0 + rb.width * w / scale, y0 + rb.height * h / scale)
        if box[2] - box[0] >= 4 and box[3] - box[1] >= 4:
            boxes.append((box, float(det.score[0]) if det.score else 1.0))
    return boxes


def detect_boxes(rgb: np.ndarray, tiles: bool = False) -> list[tuple[tuple[float, float, float, float], float]]:
    """Full-range detector boxes (x0, y0, x1, y1) in pixels of `rgb`, with scores, best first.

    The detector looks at a 192 px input, so faces under ~1/15 of the frame width are lost; with
    `tiles` it also scans four overlapping corner tiles (each 60% of the frame), which finds faces
    down to ~1/25 of the frame width at about five times the cost.
    """
    boxes = _detect_once(rgb)
    h, w = rgb.shape[:2]
    if tiles and min(h, w) >= 64:
        tw, th = int(w * TILE_FRACTION), int(h * TILE_FRACTION)
        for x0 in (0, w - tw):
            for y0 in (0, h - th):
                boxes += _detect_once(rgb[y0 : y0 + th, x0 : x0 + tw], x0, y0)
    boxes.sort(key=lambda item: -item[1])
    kept: list[tuple[tuple[float, float, float, float], float]] = []
    for box, score in boxes:  # greedy non-maximum suppression across the tiles
        if all(box_iou(box, k[0]) < 0.4 and not _centre_inside(box, k[0]) for k in kept):
            kept.append((box, score))
    return kept


def mesh_in_crop(rgb: np.ndarray, box: tuple[float, float, float, float], expand: float) -> np.ndarray | None:
    """Run FaceMesh on a square crop centred on `box` (side = expand x the box's long side).

    Returns landmarks in frame pixels for the face nearest the crop centre, or None when FaceMesh finds
    no face there (which doubles as our "is this really a face" check).
    """
    import cv2  # noqa: PLC0415

    h, w = rgb.shape[:2]
    cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    side = int(round(max(box[2] - box[0], box[3] - box[1]) * expand))
    if side < 8:
        return None
    cx0, cy0 = int(round(cx - side / 2)), int(round(cy - side / 2))
    sx0, sy0, sx1, sy1 = max(cx0, 0), max(cy0, 0), min(cx0 + side, w), min(cy0 + side, h)
    if sx1 <= sx0 or sy1 <= sy0:
        return None
    crop = np.zeros((side, side, 3), np.uint8)  # zero padding where the crop leaves the frame
    crop[sy0 - cy0 : sy1 - cy0, sx0 - cx0 : sx1 - cx0] = rgb[sy0:sy1, sx0:sx1]
    size = models.CROP_MESH_SIZE
    interp = cv2.INTER_AREA if side > size else cv2.INTER_LINEAR
    crop = cv2.resize(crop, (size, size), interpolation=interp)
    result = models.run_graph(models.model("crop_mesh"), crop)
    faces = result.multi_face_landmarks or []
    if not faces:
        return None
    candidates = [_landmarks_array(f, 1.0, 1.0) for f in faces]  # normalised crop coords
    best = min(candidates, key=lambda p: float(np.hypot(*(p[:, :2].mean(axis=0) - 0.5))))
    best = best * np.float32(side)
    best[:, 0] += cx0
    best[:, 1] += cy0
    if not _centre_inside(landmark_box(best), _grow(box, 1.0)):
        return None  # FaceMesh latched onto a neighbour, not the face we asked about
    return best


def _grow(box: tuple[float, ...], frac: float) -> tuple[float, float, float, float]:
    dw, dh = (box[2] - box[0]) * frac / 2, (box[3] - box[1]) * frac / 2
    return box[0] - dw, box[1] - dh, box[2] + dw, box[3] + dh


def _covered(box: tuple[float, ...], faces: list[FoundFace]) -> bool:
    return any(_centre_inside(box, f.box) or box_iou(box, f.box) > 0.3 for f in faces)


def _add_from_detections(rgb: np.ndarray, faces: list[FoundFace], max_faces: int, tiles: bool) -> None:
    for box, score in detect_boxes(rgb, tiles):
        if len(faces) >= max_faces:
            break
        if _covered(box, faces):
            continue
        pts = mesh_in_crop(rgb, box, DETECT_CROP_EXPAND)
        if pts is not None and not _covered(landmark_box(pts), faces):
            faces.append(FoundFace(pts, score, from_crop=True))


def find_faces_in_image(rgb: np.ndarray, max_faces: int, max_side: int = DEFAULT_MAX_SIDE) -> list[FoundFace]:
    """Faces in a still image: detector + crop mesh, whole-image FaceMesh only when the detector sees none."""
    faces: list[FoundFace] = []
    _add_from_detections(rgb, faces, max_faces, tiles=True)
    if not faces:
        small, scale = downscale(rgb, max_side)
        for pts in mesh_whole_frame(models.model(f"image_mesh:{max_faces}"), small, scale):
            if not _covered(landmark_box(pts), faces):
                faces.append(FoundFace(pts, 1.0, from_crop=False))
    return faces[:max_faces]


class VideoFaceFinder:
    """Stateful per-clip finder: FaceMesh tracking on whole frames, plus detector-found faces it misses.

    The full-range detector runs when no face is known and otherwise every `detect_every_s` seconds;
    the slower tiled scan (small faces) runs on the first frame, after every cut and every
    `tiled_every_s`. While FaceMesh already follows a face, the look for others is less frequent
    (`tracked_detect_every_s`, `tracked_tiled_every_s`): the detector (18 ms a tiled scan at 720p)
    cost as much as FaceMesh on every frame, and a newcomer beside a tracked face joins half a second
    (a small one two seconds) after it appears at most. The common case (faces FaceMesh already tracks)
    costs one FaceMesh call per frame.
    """

    def __init__(
        self,
        max_faces: int,
        detect_every_s: float = 0.25,
        tiled_every_s: float = 1.0,
        max_side: int = DEFAULT_MAX_SIDE,
        tracked_detect_every_s: float = 0.5,
        tracked_tiled_every_s: float = 2.0,
    ) -> None:
        self.max_faces = max_faces
        self.detect_every_s = detect_every_s
        self.tiled_every_s = tiled_every_s
        self.tracked_detect_every_s = max(detect_every_s, tracked_detect_every_s)
        self.tracked_tiled_every_s = max(tiled_every_s, tracked_tiled_every_s)
        self.max_side = max_side
        self._mesh = models.new_video_mesh(max_faces)
        self._followed: list[FoundFace] = []  # crop-found faces of the previous frame
        self._last_detect_s = -np.inf
        self._last_tiled_s = -np.inf

    def __call__(self, rgb: np.ndarray, time_s: float, cut: bool = False) -> list[FoundFace]:
        """Faces in this frame; `cut` = a new shot starts here (forget followed faces, scan afresh)."""
        if cut or time_s < self._last_detect_s:  # a cut, or time went backwards: start over
            self._followed = []
            self._last_detect_s = self._last_tiled_s = -np.inf
        small, scale = downscale(rgb, self.max_side)
        faces = [FoundFace(p, 1.0, from_crop=False) for p in mesh_whole_frame(self._mesh, small, scale)]
        for prev in self._followed:  # keep following faces the whole-frame mesh does not see
            if len(faces) >= self.max_faces or _covered(prev.box, faces):
                continue
            pts = mesh_in_crop(rgb, prev.box, TRACK_CROP_EXPAND)
            if pts is not None and not _covered(landmark_box(pts), faces):
                faces.append(FoundFace(pts, prev.score, from_crop=True))
        if len(faces) < self.max_faces:
            detect_every, tiled_every = ((self.tracked_detect_every_s, self.tracked_tiled_every_s) if faces
                                         else (self.detect_every_s, self.tiled_every_s))
            tiled = time_s - self._last_tiled_s >= tiled_every
            if tiled or not faces or time_s - self._last_detect_s >= detect_every:
                self._last_detect_s = time_s
                if tiled:
                    self._last_tiled_s = time_s
                _add_from_detections(rgb, faces, self.max_faces, tiles=tiled)
        self._followed = [f for f in faces if f.from_crop]
        return faces

    def close(self) -> None:
        models.close_graph(self._mesh)

    def __enter__(self) -> VideoFaceFinder:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

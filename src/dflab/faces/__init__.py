"""Faces: detection, 478-point landmarks with iris, tracking, alignment, masks and identity embeddings.

Importing this package is cheap; MediaPipe and dlib load on first use (see faces/models.py).
"""

from dflab.faces.align import TEMPLATE_5PT, align, alignment_matrix, template_points
from dflab.faces.analyse import analyse
from dflab.faces.identity import SAME_PERSON_THRESHOLD, embed, identity_distance
from dflab.faces.landmarks import eye_aspect_ratio, mouth_aspect_ratio
from dflab.faces.masks import boundary_band, face_mask, inner_face_mask, surrounding_skin_mask
from dflab.faces.types import FaceObservation, FaceTrack

__all__ = [
    "FaceObservation",
    "FaceTrack",
    "SAME_PERSON_THRESHOLD",
    "TEMPLATE_5PT",
    "align",
    "alignment_matrix",
    "analyse",
    "boundary_band",
    "embed",
    "eye_aspect_ratio",
    "face_mask",
    "identity_distance",
    "inner_face_mask",
    "mouth_aspect_ratio",
    "surrounding_skin_mask",
    "template_points",
]

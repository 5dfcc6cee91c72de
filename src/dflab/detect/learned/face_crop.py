"""The learned face-crop detector: EfficientNet-Lite0 trained on real faces vs self-blended pseudo-fakes.

Each face track is sampled (about `rate_per_s` observations per second, at most `max_per_track`, spread
over the whole track), every sampled face is aligned with dflab.faces.align to the model's crop, and the
crops of all tracks go through the network in batches. A track's score is the mean P(fake) of its crops;
the file's is the highest track score. The per-crop probabilities are the "score" series, so the
timeline shows when the face looks blended. Weights load lazily, once per process, from the package.
"""

from __future__ import annotations

import threading

import numpy as np

from dflab.detect.context import AnalysedMedia
from dflab.detect.evidence import Evidence, not_applicable
from dflab.detect.registry import register_detector
from dflab.detect.timeline import flagged_ranges
from dflab.faces.types import FaceTrack

FLAG_AT = 0.6  # per-crop probability above which a moment counts as suspicious in time_ranges


def sample_observations(track: FaceTrack, rate_per_s: float, max_count: int) -> list[int]:
    """Indices into track.observations: at most one per 1/rate seconds, then thinned evenly to max_count."""
    if not track.observations:
        return []
    chosen = [0]
    step = 1.0 / rate_per_s
    for i, obs in enumerate(track.observations[1:], start=1):
        if obs.time_s - track.observations[chosen[-1]].time_s >= step - 1e-9:
            chosen.append(i)
    if len(chosen) > max_count:
        keep = np.linspace(0, len(chosen) - 1, max_count).round().astype(int)
        chosen = [chosen[k] for k in keep]
    return chosen


@register_detector("face_crop")
class FaceCropDetector:
    media_types = ("image", "video")
    needs_faces = True
    # Its forward pass over a batch of crops is the largest transient allocation of a scan; with the network in a
    # child process (start_process) that peak is the child's, and the cue runs beside the others.
    runs_alone = True
    # Loading the network imports ONNX Runtime, which starts a thread (cli/fork_runner.py warms nothing that does).
    warm_starts_threads = True

    # Torch's thread count is a process-wide setting, chosen once (dflab.threads), never set and restored
    # around each call: that raced between scans running in threads. A Scanner asks for one thread: on the
    # shared 2-core machine one scored 75 crops/s against 24 with two (bench/results/detector_speed.json),
    # while the other core keeps decoding and face tracking busy. `threads`, when given, is requested for
    # the whole process.
    def __init__(self, weights: str | None = None, rate_per_s: float = 2.0, max_per_track: int = 48,
                 batch_size: int = 32, threads: int | None = None):
        from dflab.errors import UsageError

        if not rate_per_s > 0 or max_per_track < 1 or batch_size < 1:
            raise UsageError("face_crop: rate_per_s must be > 0, max_per_track and batch_size >= 1")
        self.weights = weights
        self.rate_per_s = rate_per_s
        self.max_per_track = max_per_track
        self.batch_size = batch_size
        self.threads = threads
        if threads is not None:
            from dflab.threads import request_torch_threads

            request_torch_threads(threads)

    def start_process(self):
        """A child process that imports torch and loads this network while a video decodes (the scan asks for one
        when ScanOptions.model_processes allows; `detect` then runs the network there)."""
        from dflab.detect.learned.face_crop_process import FaceCropProcess

        return FaceCropProcess(self.weights)

    def start_apart(self, media: AnalysedMedia) -> None:
        """With the network in a child process (media.workers): cut the crops and hand them over as soon as their
        frames are at hand (the scan calls this right after its frame pass), on a thread of their own so that
        nothing waits for the child's start-up; the forward passes then run while the other cues do, and `detect`
        only collects them."""
        process = media.workers.get(self.name)
        if process is None or not media.tracks or process.early is not None:
            return
        from concurrent.futures import Future

        early: Future = Future()
        process.early = early

        def score() -> None:
            try:
                meta = process.meta()
                crops, *rest = self._crops(media, int(meta["crop_size"]), float(meta["padding"]))
                stacked = np.stack(crops)
                ticket = process.request_probabilities(stacked, self.batch_size)
                early.set_result((meta, (crops, *rest), ticket))
            except BaseException as exc:  # noqa: BLE001 - raised again by `detect`, on the cue's own thread
                early.set_exception(exc)

        threading.Thread(target=score, name="dflab-face-crop-early", daemon=True).start()

    def warm(self) -> None:
        """Load the network now rather than on the first face."""
        self._network()

    def _network(self):
        """The network in this process (face_crop_runtime), loaded once per process at the requested thread count."""
        from dflab.detect.learned.face_crop_runtime import cached_network
        from dflab.threads import requested_torch_threads

        return cached_network(self.weights, requested_torch_threads())

    def _crops(self, media: AnalysedMedia, size: int, padding: float):
        from dflab.faces import align

        crops, owners, times, positions, matrices = [], [], [], [], []
        for track in media.tracks:
            for i in sample_observations(track, self.rate_per_s, self.max_per_track):
                obs = track.observations[i]
                crop, matrix = align(media.frame(obs.frame_pos), obs.landmarks, size, padding)
                crops.append(crop)
                matrices.append(matrix)
                owners.append(track.track_id)
                times.append(obs.time_s)
                positions.append(obs.frame_pos)
        return crops, np.array(owners), np.array(times, dtype=np.float64), np.array(positions), matrices

    def frames_wanted(self, media: AnalysedMedia) -> list[int]:
        """The frame positions `detect` reads (the scan decodes them together with other cues' frames)."""
        return [track.observations[i].frame_pos for track in media.tracks
                for i in sample_observations(track, self.rate_per_s, self.max_per_track)]

    def detect(self, media: AnalysedMedia) -> Evidence:
        if not media.tracks:
            return not_applicable(self.name, "No face to examine.")
        process = media.workers.get(self.name)  # the network in a child process the scan started (start_process)
        if process is not None:
            self.start_apart(media)  # a no-op when the scan has already started it
            meta, cut, ticket = process.early.result()
            crops, owners, times, positions, matrices = cut
            probs, cam_of = process.probabilities_of(ticket), process.grad_cam
        else:
            network = self._network()
            crops, owners, times, positions, matrices = self._crops(media, int(network.meta["crop_size"]),
                                                                    float(network.meta["padding"]))  # fmt: skip
            probs, cam_of = network.probabilities(np.stack(crops), self.batch_size), network.grad_cam
        track_scores = {int(t): float(np.mean(probs[owners == t])) for t in np.unique(owners)}
        counts = {t: int((owners == t).sum()) for t in track_scores}
        # The file is as suspicious as its most suspicious face with enough crops to judge by.
        enough = max(counts.values()) if media.media_type == "image" else min(3, max(counts.values()))
        main = max((t for t in track_scores if counts[t] >= enough), key=lambda t: track_scores[t])
        mine = owners == main
        order = np.argsort(times[mine])
        main_times, main_probs = times[mine][order], probs[mine][order]
        score = float(np.clip(track_scores[main], 0.0, 1.0))
        key = int(np.argmax(main_probs))
        key_index = int(np.flatnonzero(mine)[order][key])  # the most suspicious crop of the main track
        heatmap = self._heatmap(media, cam_of, crops[key_index], matrices[key_index], int(positions[key_index]))
        verdict = "looks blended (a sign of a swapped or edited face)" if score >= 0.6 else (
            "looks like an unedited face" if score < 0.4 else "is inconclusive")
        return Evidence(
            name=self.name,
            score=score,
            confidence=0.8 if counts[main] >= 4 else 0.6,
            summary=f"The learned face model (EfficientNet-Lite0 trained on self-blended faces) rates face "
            f"track {main} {score:.2f} fake on average over {counts[main]} crop(s): it {verdict}.",
            time_ranges=flagged_ranges(main_times, main_probs >= FLAG_AT) if media.media_type == "video" else [],
            times=main_times,
            series={"score": main_probs},
            track_scores=track_scores,
            heatmap=heatmap,
            heatmap_frame=int(positions[key_index]),
            details={"crops_scored": int(len(probs)), "main_track": main, "max_crop_score": round(float(main_probs.max()), 4)},
        )

    @staticmethod
    def _heatmap(media: AnalysedMedia, cam_of, crop: np.ndarray, matrix: np.ndarray, frame_pos: int) -> np.ndarray:
        """The Grad-CAM of the key crop (`cam_of(crop)`), warped back onto its frame."""
        import cv2

        height, width = media.frame_shape(frame_pos)[:2]  # the size only: no pixels decoded
        cam = cam_of(crop)
        inverse = cv2.invertAffineTransform(matrix)
        full = cv2.warpAffine(cam, inverse, (width, height), flags=cv2.INTER_LINEAR)
        return np.clip(full / (full.max() + 1e-6), 0.0, 1.0)

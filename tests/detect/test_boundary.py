import numpy as np

from dflab.detect.cues.boundary import BoundaryDetector
from dflab.detect.cues.skin_tone import SkinToneDetector


def test_hard_seam_scores_higher_than_the_untouched_photo(seam_pair):
    real, fake = seam_pair
    assert real.tracks and fake.tracks, "both photos must have a detected face"
    detector = BoundaryDetector()
    real_ev, fake_ev = detector.detect(real), detector.detect(fake)
    assert fake_ev.details["seam_log_ratio"] > real_ev.details["seam_log_ratio"] + 0.1
    assert fake_ev.score > real_ev.score


def test_heatmap_points_at_the_seam(seam_pair):
    _, fake = seam_pair
    ev = BoundaryDetector().detect(fake)
    assert ev.heatmap is not None and ev.heatmap.shape == fake.media.frames[0].rgb.shape[:2]
    ys, xs = np.nonzero(ev.heatmap > 0.5)
    x0, y0, x1, y1 = fake.tracks[0].observations[0].box
    # The hot pixels lie on the face, not somewhere in the background.
    assert x0 - 20 <= np.median(xs) <= x1 + 20 and y0 - 20 <= np.median(ys) <= y1 + 20


def test_skin_tone_flags_a_recoloured_inner_face(seam_pair, analyse_file, tmp_path):
    """A swap with poor colour correction, made explicit: the inner face shifted in chroma, the forehead kept."""
    import cv2

    from dflab.media import write_image

    real, _ = seam_pair
    obs = real.tracks[0].observations[0]
    rgb = real.media.frames[0].rgb
    lab = cv2.cvtColor(rgb.astype(np.float32) / 255.0, cv2.COLOR_RGB2LAB)
    mask = np.zeros(rgb.shape[:2], np.uint8)
    xy = obs.landmarks[:, :2]
    inner = xy[xy[:, 1] >= xy[[70, 63, 105, 66, 107, 336, 296, 334, 293, 300], 1].min()].astype(np.int32)
    cv2.fillConvexPoly(mask, cv2.convexHull(inner), 1)
    lab[..., 1] += 12.0 * mask  # redder inner face
    recoloured = np.clip(cv2.cvtColor(lab, cv2.COLOR_LAB2RGB) * 255 + 0.5, 0, 255).astype(np.uint8)
    write_image(tmp_path / "recoloured.png", recoloured)
    fake = analyse_file(tmp_path / "recoloured.png")

    real_ev, fake_ev = SkinToneDetector().detect(real), SkinToneDetector().detect(fake)
    assert real_ev.confidence > 0 and fake_ev.confidence > 0
    assert fake_ev.details["median_chroma_difference"] > real_ev.details["median_chroma_difference"] + 6
    assert fake_ev.score > 0.5 > real_ev.score


def test_skin_tone_abstains_when_the_forehead_is_not_bare_skin(seam_pair):
    # In the pasted photo the seam crosses the forehead patch: not bare skin, so no colour verdict.
    _, fake = seam_pair
    assert SkinToneDetector().detect(fake).confidence == 0


def test_track_measurements_one_crop_at_a_time_equal_the_whole_track_at_once(shared_data):
    """The grey of each aligned crop is made as the loop reaches it (memory flat in track length): the seam,
    flicker and energy are the values computed from the whole track's grey array at once."""
    import av

    from dflab.detect.context import AnalysedMedia
    from dflab.detect.cues.aligned import align_track, rings, swap_region_mask
    from dflab.detect.cues.boundary import _gray, seam_ratio, track_measurements
    from dflab.faces.analyse import analyse_frames
    from dflab.media.types import Frame, Media

    path = shared_data / "liveportrait/assets/examples/source/s32.mp4"
    with av.open(str(path)) as container:
        frames = [Frame(i, float(f.time), f.to_ndarray(format="rgb24"))
                  for i, f in zip(range(12), container.decode(container.streams.video[0]))]
    h, w = frames[0].rgb.shape[:2]
    media = Media(path=path, media_type="video", frames=frames, fps=30.0, duration_s=frames[-1].time_s, width=w,
                  height=h)
    tracks = analyse_frames(iter(frames), "video", max_faces=1, embed_every_s=None, face_rate_fps=None)
    aligned = align_track(AnalysedMedia(media, tracks), tracks[0])
    assert len(aligned.crops) >= 8

    gray = _gray(aligned.crops)  # the whole track at once, as the measurements were made before
    seam, flicker, energy = [], [np.nan], np.zeros(gray.shape[1:], np.float32)
    for i in range(len(gray)):
        band, interior, outside = rings(swap_region_mask(aligned.points[i]))
        seam.append(seam_ratio(gray[i], band, interior, outside)[0])
        if i:
            change = np.abs(gray[i] - gray[i - 1] - (gray[i] - gray[i - 1]).mean())
            energy += change
            flicker.append(np.log((change[band].mean() + 1.0) / (0.5 * (change[interior].mean()
                                                                             + change[outside].mean()) + 1.0)))
    made = track_measurements(aligned)
    assert np.array_equal(made["seam"], np.array(seam))
    assert np.array_equal(made["flicker"], np.array(flicker), equal_nan=True)
    assert np.array_equal(made["energy"], energy / (len(gray) - 1))

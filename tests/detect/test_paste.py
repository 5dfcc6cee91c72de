"""The paste-seam cue on real photos: a rectangle cut and pasted over a face with hard edges reads as a long
straight seam, the untouched photo and the same photo in a letterbox do not."""

from __future__ import annotations

import numpy as np

from dflab.detect.cues.paste import PasteSeamDetector, content_bounds, longest_runs


def test_a_pasted_rectangle_reads_as_a_straight_seam(analyse_file, tmp_path):
    from dflab.media import write_image
    from dflab.samples import astronaut, pasted_fake

    real_path, fake_path = tmp_path / "real.jpg", tmp_path / "fake.jpg"
    write_image(real_path, astronaut(), quality=95)
    write_image(fake_path, pasted_fake(astronaut()), quality=95)
    detector = PasteSeamDetector()
    real, fake = detector.detect(analyse_file(real_path)), detector.detect(analyse_file(fake_path))
    assert fake.details["straightness"] > 0.45 and fake.score > 0.8
    assert real.details["straightness"] < 0.3 and real.score < 0.2


def test_padding_bars_are_not_seams(analyse_file, shared_data, tmp_path):
    from dflab.media import load, write_image

    rgb = load(shared_data / "face_recognition/examples/obama.jpg").frames[0].rgb
    h, w = rgb.shape[:2]
    boxed = np.zeros((h, w + 2 * (w // 4), 3), np.uint8)  # pillarbox: black bars left and right
    boxed[:, w // 4: w // 4 + w] = rgb
    assert content_bounds(boxed) == (w // 4 + 6, 0, w // 4 + w - 6, h)
    write_image(tmp_path / "boxed.png", boxed)
    evidence = PasteSeamDetector().detect(analyse_file(tmp_path / "boxed.png"))
    assert evidence.details["straightness"] < 0.3


def test_longest_runs_counts_consecutive_rows_of_the_sharpest_column():
    steps = np.zeros((10, 6), np.float32)
    steps[2:9, 3] = 40.0  # a clear straight step, 7 rows long
    steps[0:2, 1] = 40.0
    assert longest_runs(steps).tolist() == [0, 2, 0, 7, 0, 0]
    assert longest_runs(steps * 0.1).max() == 0  # a faint step is no seam

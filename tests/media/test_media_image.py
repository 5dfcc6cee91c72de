"""Still images: real JPEG/PNG files, EXIF orientation, WebP, odd modes, analysis downscale."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from dflab.config import SamplingPolicy
from dflab.media import load, load_image_rgb, probe, write_image


def test_cnndetection_png_crops(shared_data):
    crops = sorted((shared_data / "cnndetection" / "crops").glob("*.png"))[:6]
    assert len(crops) == 6
    for crop in crops:
        media = load(crop)
        with Image.open(crop) as im:
            expected = np.asarray(im.convert("RGB"))
        assert media.media_type == "image" and media.codec == "png"
        assert len(media.frames) == 1 and media.frames[0].index == 0 and media.frames[0].time_s == 0.0
        assert (media.height, media.width) == expected.shape[:2]
        assert np.array_equal(media.frames[0].rgb, expected)  # lossless: exact pixels
        assert media.fps == 0.0 and media.duration_s == 0.0 and media.audio is None


def test_dlib_face_photos_are_rgb_uint8(shared_data):
    photos = sorted((shared_data / "dlib_faces" / "examples" / "faces").glob("*.jpg"))
    assert len(photos) >= 10
    for photo in photos:
        media = load(photo, policy=SamplingPolicy(max_side=4096))
        rgb = media.frames[0].rgb
        assert rgb.dtype == np.uint8 and rgb.ndim == 3 and rgb.shape[2] == 3
        assert rgb.flags["C_CONTIGUOUS"]
        with Image.open(photo) as im:
            assert (media.width, media.height) == im.size
        assert media.scale == 1.0 and media.codec == "jpeg"


def _two_colour_jpeg(path, orientation: int) -> None:
    """40 wide x 20 high: left half red, right half blue, tagged with an EXIF orientation."""
    rgb = np.zeros((20, 40, 3), np.uint8)
    rgb[:, :20] = (255, 0, 0)
    rgb[:, 20:] = (0, 0, 255)
    exif = Image.Exif()
    exif[0x0112] = orientation
    Image.fromarray(rgb).save(path, format="JPEG", quality=95, exif=exif.tobytes())


def test_exif_orientation_6_is_applied(tmp_path):
    photo = tmp_path / "phone.jpg"
    _two_colour_jpeg(photo, orientation=6)  # "rotate 90 degrees clockwise to display"
    media = load(photo)
    rgb = media.frames[0].rgb.astype(int)
    assert rgb.shape == (40, 20, 3) and (media.width, media.height) == (20, 40)
    # Turning clockwise puts the left (red) half on top and the right (blue) half at the bottom.
    top, bottom = rgb[:15].mean(axis=(0, 1)), rgb[-15:].mean(axis=(0, 1))
    assert top[0] > 200 and top[2] < 60
    assert bottom[2] > 200 and bottom[0] < 60
    assert media.meta["exif_orientation"] == 6
    assert probe(photo)["width"] == 20 and probe(photo)["height"] == 40  # oriented, from the header


def test_exif_orientation_1_is_untouched(tmp_path):
    photo = tmp_path / "plain.jpg"
    _two_colour_jpeg(photo, orientation=1)
    assert load(photo).frames[0].rgb.shape == (20, 40, 3)


def test_webp_and_png_round_trip(tmp_path, shared_data):
    source = load_image_rgb(shared_data / "cnndetection" / "crops" / "0_cyclegan_real.png")
    lossless = write_image(tmp_path / "copy.png", source)
    assert np.array_equal(load(lossless).frames[0].rgb, source)
    lossy = write_image(tmp_path / "copy.webp", source, quality=90)
    media = load(lossy)
    assert media.codec == "webp" and media.frames[0].rgb.shape == source.shape
    assert np.abs(media.frames[0].rgb.astype(int) - source).mean() < 8
    jpeg = write_image(tmp_path / "copy.jpg", source, quality=95)
    assert np.abs(load(jpeg).frames[0].rgb.astype(int) - source).mean() < 6


def test_odd_modes_become_rgb(tmp_path):
    ramp = (np.arange(64, dtype=np.uint16)[None, :] * 1000).repeat(16, axis=0)  # 16-bit greyscale
    Image.fromarray(ramp).save(tmp_path / "grey16.png")
    grey = load(tmp_path / "grey16.png").frames[0].rgb
    assert grey.shape == (16, 64, 3) and grey[0, -1, 0] == round(63000 / 65535 * 255)  # scaled, not clipped
    rgba = np.zeros((16, 16, 4), np.uint8)
    rgba[..., 1] = 200
    rgba[..., 3] = 255
    Image.fromarray(rgba, "RGBA").save(tmp_path / "alpha.png")
    assert tuple(load(tmp_path / "alpha.png").frames[0].rgb[5, 5]) == (0, 200, 0)
    Image.fromarray(np.full((16, 16), 7, np.uint8), "L").save(tmp_path / "grey.jpg")
    assert load(tmp_path / "grey.jpg").frames[0].rgb.shape == (16, 16, 3)


def test_large_image_is_downscaled_for_analysis_only(shared_data):
    photo = shared_data / "face_recognition" / "examples" / "obama-1080p.jpg"
    media = load(photo, policy=SamplingPolicy(max_side=480))
    assert (media.width, media.height) == (1920, 1080)  # source size is reported
    assert media.frames[0].rgb.shape == (270, 480, 3)
    assert media.scale == pytest.approx(0.25)
    full = load_image_rgb(photo)
    assert full.shape == (1080, 1920, 3)  # full resolution for code that needs every pixel

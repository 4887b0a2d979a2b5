import numpy as np
import pytest

from fusionlib.data import thermal

SCENE = thermal.Scene(wound=27.0, peri=31.0, skin=30.0, ambient=22.0, offset=0.0, cx=130, cy=180, rx=8, ry=10,
                      angle=0.2, gradient=0.0, foot=(135, 180, 110, 160), fov=0.72, noise=0.0)


def test_crop_box_grows_and_clips():
    assert thermal.crop_box((5, 10, 20, 30), 8, (40, 100)) == (0, 2, 28, 38)
    with pytest.raises(ValueError, match="empty"):
        thermal.crop_box((5, 5, 5, 9), 2, (40, 40))
    with pytest.raises(ValueError, match="outside"):
        thermal.crop_box((50, 5, 60, 9), 2, (40, 40))


def test_resize_pad_keeps_aspect_and_pads_with_zeros():
    crop = np.full((10, 20, 3), 200, dtype=np.uint8)
    out = thermal.resize_pad(crop, 32)
    assert out.shape == (32, 32, 3)
    assert (out[:8] == 0).all() and (out[-8:] == 0).all()     # 16 rows of image, centred
    assert (out[8:24] == 200).all()


def test_window_render_equals_crop_of_full_frame():
    frame = (360, 270)
    full = thermal.render_frame(SCENE, frame, np.random.default_rng(0))
    box = SCENE.box()
    expected = thermal.crop_resize_pad(full, box, 32, 8)
    got = thermal.render_crop(SCENE, frame, 8, 32, np.random.default_rng(0))
    assert np.array_equal(got, expected)


def test_colder_wound_is_darker_in_viridis_and_border_is_black():
    t, visible = thermal.temperature_field(SCENE, (360, 270))
    assert t[180, 130] == pytest.approx(27.0, abs=0.2)
    rgb = thermal.to_viridis(t, visible)
    assert rgb[180, 130].sum() < rgb[180, 60].sum()      # wound colder than skin -> darker/bluer
    assert (rgb[0, 0] == 0).all() and not visible[0, 0]  # corner outside the field of view

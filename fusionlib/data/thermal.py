"""Thermal maps: render a wound's temperature field, colour it as the camera did, crop it as the original did.

Units: temperatures in °C, lengths in pixels of the frame being rendered, images as ``uint8`` RGB
arrays of shape ``(height, width, 3)``.

The original pipeline read 1440 x 1080 (portrait) viridis false-colour PNGs with a black field-of-view
border, cropped each wound bounding box +-30 px (clipped to the image), resized the crop with its aspect
ratio kept and zero-padded it to a square of 32-128 px. :func:`crop_resize_pad` is that last step and is
shared by the synthetic renderer and the reader of real images.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from matplotlib import colormaps
from PIL import Image

#: Size of an original thermal frame, (height, width) in pixels.
FULL_FRAME = (1440, 1080)
#: Crop margin around a wound box in the original preprocessing, pixels at full resolution.
FULL_MARGIN = 30
_VIRIDIS = (colormaps["viridis"](np.linspace(0.0, 1.0, 256))[:, :3] * 255).round().astype(np.uint8)


@dataclass(frozen=True)
class Scene:
    """One thermal photograph of one wound, in frame pixels.

    Attributes
    ----------
    wound, peri, skin : float
        Wound-centre, peri-ulcer and intact-skin temperatures (°C) of the visit.
    ambient : float
        Background temperature outside the foot (°C).
    offset : float
        Per-image calibration offset added to every skin pixel (°C).
    cx, cy : float
        Wound centre (pixels, x to the right, y down).
    rx, ry : float
        Wound ellipse semi-axes (pixels); the peri-ulcer ring extends to twice these.
    angle : float
        Rotation of the wound ellipse (radians).
    gradient : float
        Temperature change across the frame's height (°C), a smooth skin gradient.
    foot : tuple of float
        Foot ellipse ``(cx, cy, rx, ry)`` in pixels; outside it is ambient.
    fov : float
        Radius of the circular field of view as a fraction of the frame's half-diagonal; outside is black.
    noise : float
        Standard deviation of independent per-pixel sensor noise (°C).
    """

    wound: float
    peri: float
    skin: float
    ambient: float
    offset: float
    cx: float
    cy: float
    rx: float
    ry: float
    angle: float
    gradient: float
    foot: tuple[float, float, float, float]
    fov: float
    noise: float

    def box(self) -> tuple[int, int, int, int]:
        """Wound bounding box ``(xmin, ymin, xmax, ymax)`` in pixels, as an annotator would draw it."""
        c, s = np.cos(self.angle), np.sin(self.angle)
        hx = np.hypot(self.rx * c, self.ry * s)
        hy = np.hypot(self.rx * s, self.ry * c)
        return (int(np.floor(self.cx - hx)), int(np.floor(self.cy - hy)),
                int(np.ceil(self.cx + hx)), int(np.ceil(self.cy + hy)))


def _soft(d: np.ndarray, edge: float = 1.0) -> np.ndarray:
    """Soft indicator of ``d < 1`` for a normalised elliptical distance ``d`` (1 at the centre, 0 outside)."""
    return 1.0 / (1.0 + np.exp((d - 1.0) * 8.0 / edge))


def temperature_field(scene: Scene, frame: tuple[int, int], window: tuple[int, int, int, int] | None = None,
                      rng: np.random.Generator | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Temperatures (°C) of ``scene`` over a frame of shape ``frame = (height, width)``.

    ``window = (x0, y0, x1, y1)`` renders only that part of the frame (the result is identical to
    rendering the whole frame and slicing, up to the independent pixel noise), which is how the
    synthetic cohort renders only the crops it needs.

    Returns ``(temperature, visible)``: float arrays of the window's shape; ``visible`` is False outside
    the circular field of view (the camera's black border).
    """
    h, w = frame
    x0, y0, x1, y1 = window if window is not None else (0, 0, w, h)
    yy, xx = np.mgrid[y0:y1, x0:x1].astype(np.float64) + 0.5
    c, s = np.cos(scene.angle), np.sin(scene.angle)
    u = ((xx - scene.cx) * c + (yy - scene.cy) * s) / scene.rx
    v = (-(xx - scene.cx) * s + (yy - scene.cy) * c) / scene.ry
    d_wound = np.hypot(u, v)
    fcx, fcy, frx, fry = scene.foot
    d_foot = np.hypot((xx - fcx) / frx, (yy - fcy) / fry)
    skin = scene.skin + scene.gradient * (yy / h - 0.5)
    t = skin + (scene.peri - scene.skin) * _soft(d_wound / 2.0, edge=0.6)
    t = t + (scene.wound - scene.peri) * _soft(d_wound, edge=0.4)
    foot = _soft(d_foot, edge=0.05)
    t = scene.ambient + (t + scene.offset - scene.ambient) * foot
    if rng is not None and scene.noise > 0:
        t = t + rng.normal(0.0, scene.noise, size=t.shape)
    visible = np.hypot(xx - w / 2, yy - h / 2) <= scene.fov * np.hypot(w / 2, h / 2)
    return t, visible


def to_viridis(temperature: np.ndarray, visible: np.ndarray | None = None,
               t_range: tuple[float, float] = (20.0, 38.0)) -> np.ndarray:
    """Map temperatures (°C) to viridis RGB ``uint8`` of shape ``temperature.shape + (3,)``.

    The colour scale is fixed over ``t_range`` (values outside are clipped); pixels where ``visible`` is
    False are black, like the camera's field-of-view border.
    """
    lo, hi = t_range
    idx = np.clip((temperature - lo) / (hi - lo), 0.0, 1.0) * 255.0
    rgb = _VIRIDIS[np.rint(idx).astype(np.intp)]
    if visible is not None:
        rgb[~visible] = 0
    return rgb


def crop_box(box: tuple[int, int, int, int], margin: int, frame: tuple[int, int]) -> tuple[int, int, int, int]:
    """The box ``(xmin, ymin, xmax, ymax)`` grown by ``margin`` pixels and clipped to ``frame = (h, w)``.

    Raises ``ValueError`` for an empty box or one entirely outside the frame.
    """
    xmin, ymin, xmax, ymax = box
    h, w = frame
    if xmax <= xmin or ymax <= ymin:
        raise ValueError(f"empty bounding box {box}")
    if xmax <= 0 or ymax <= 0 or xmin >= w or ymin >= h:
        raise ValueError(f"bounding box {box} lies outside the {w}x{h} image")
    return (max(0, xmin - margin), max(0, ymin - margin), min(w, xmax + margin), min(h, ymax + margin))


def resize_pad(crop: np.ndarray, size: int) -> np.ndarray:
    """Resize an RGB ``uint8`` crop so its longer side is ``size`` (aspect kept, bilinear), then zero-pad
    it, centred, to ``(size, size, 3)``."""
    ch, cw = crop.shape[:2]
    scale = size / max(ch, cw)
    nh, nw = max(1, round(ch * scale)), max(1, round(cw * scale))
    resized = np.asarray(Image.fromarray(crop).resize((nw, nh), Image.BILINEAR))
    out = np.zeros((size, size, 3), dtype=np.uint8)
    top, left = (size - nh) // 2, (size - nw) // 2
    out[top:top + nh, left:left + nw] = resized
    return out


def crop_resize_pad(image: np.ndarray, box: tuple[int, int, int, int], size: int, margin: int) -> np.ndarray:
    """The original preprocessing: crop ``box`` +- ``margin`` (clipped) from an RGB image of shape
    ``(h, w, 3)`` and return it resized with aspect kept and zero-padded to ``(size, size, 3)`` ``uint8``."""
    x0, y0, x1, y1 = crop_box(box, margin, image.shape[:2])
    return resize_pad(image[y0:y1, x0:x1], size)


def render_crop(scene: Scene, frame: tuple[int, int], margin: int, size: int,
                rng: np.random.Generator, t_range: tuple[float, float] = (20.0, 38.0)) -> np.ndarray:
    """Render only the wound box +- ``margin`` of ``scene`` and preprocess it as :func:`crop_resize_pad`
    would the full frame. Returns ``(size, size, 3)`` ``uint8``."""
    window = crop_box(scene.box(), margin, frame)
    t, visible = temperature_field(scene, frame, window, rng)
    return resize_pad(to_viridis(t, visible, t_range), size)


def render_frame(scene: Scene, frame: tuple[int, int], rng: np.random.Generator,
                 t_range: tuple[float, float] = (20.0, 38.0)) -> np.ndarray:
    """The whole false-colour frame of ``scene``, ``(h, w, 3)`` ``uint8`` (for figures and tests)."""
    t, visible = temperature_field(scene, frame, None, rng)
    return to_viridis(t, visible, t_range)

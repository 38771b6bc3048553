"""Checks on rendered images shared by the report tests: real PNG, not blank, SVG parses."""

from __future__ import annotations

import io
import xml.etree.ElementTree as ET

import numpy as np
from matplotlib.image import imread


def png_pixels(data: bytes) -> np.ndarray:
    """PNG bytes → RGBA array (raises on a non-PNG)."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG signature"
    return imread(io.BytesIO(data), format="png")


def assert_real_png(data: bytes, size: tuple[int, int]) -> None:
    """PNG bytes → assert it decodes to (width, height) pixels that are not one flat colour."""
    px = png_pixels(data)
    assert (px.shape[1], px.shape[0]) == size
    rgb = px[..., :3].reshape(-1, 3)
    q = (rgb * 255).astype(np.uint32)
    colours = np.unique(q[:, 0] << 16 | q[:, 1] << 8 | q[:, 2])
    assert len(colours) > 20, f"image looks blank ({len(colours)} colours)"
    # something other than the white background covers a real part of the picture
    assert (rgb.min(axis=1) < 0.9).mean() > 0.01


def assert_svg(data: bytes) -> ET.Element:
    """SVG bytes → the parsed root; asserts it is an <svg> with no script element."""
    root = ET.fromstring(data)
    assert root.tag.endswith("svg")
    assert not [e for e in root.iter() if e.tag.split("}")[-1].lower() == "script"]
    assert not [e for e in root.iter() for k in e.attrib if k.lower().startswith("on")]
    return root

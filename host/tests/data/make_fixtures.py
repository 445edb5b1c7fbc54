"""Writes the imageio fixtures in this directory with independent encoders.

Run from this directory: /work/venv/yam/bin/python make_fixtures.py
Needs numpy, pillow, tifffile and opencv-python-headless. The pixel values below are the ones
host/src/imageio tests expect; change both together.
"""

import cv2
import numpy as np
import tifffile
from PIL import Image

# PNG, written by Pillow (libpng/zlib).
Image.fromarray(np.array([[0, 1, 2], [127, 128, 255]], np.uint8), "L").save("gray8.png")
Image.fromarray(np.array([[0, 1, 256], [4095, 32768, 65535]], np.uint16)).save("gray16.png")
rgb8 = np.array([[[255, 0, 0], [0, 255, 0]], [[0, 0, 255], [10, 20, 30]]], np.uint8)
Image.fromarray(rgb8, "RGB").save("rgb8.png")
rgba8 = np.array([[[1, 2, 3, 4], [5, 6, 7, 8]]], np.uint8)
Image.fromarray(rgba8, "RGBA").save("rgba8.png")
Image.fromarray(np.array([[[10, 0], [20, 128], [30, 255]]], np.uint8), "LA").save("gray_alpha8.png")
pal = Image.new("P", (3, 1))
pal.putpalette([255, 0, 0, 0, 255, 0, 0, 0, 255])
pal.putdata([2, 0, 1])
pal.save("palette.png")
Image.fromarray(np.array([[False, True, True, False]])).convert("1").save("gray1.png")
# 16-bit RGB(A) PNG by OpenCV (libpng); OpenCV takes BGR(A) order.
rgb16 = np.array([[[1, 2, 3], [256, 512, 65535]]], np.uint16)
cv2.imwrite("rgb16.png", rgb16[:, :, ::-1])
rgba16 = np.array([[[1000, 2000, 3000, 4000]]], np.uint16)
cv2.imwrite("rgba16.png", rgba16[:, :, [2, 1, 0, 3]])

# TIFF, written by tifffile.
tifffile.imwrite("gray8.tif", np.array([[0, 1, 2], [127, 128, 255]], np.uint8))
tifffile.imwrite("gray16_be.tif", np.array([[0, 1, 256], [4095, 32768, 65535]], np.uint16),
                 byteorder=">")
tifffile.imwrite("gray_f32_zlib.tif", np.array([[0.5, -1.25], [3.0e8, 1.0e-7]], np.float32),
                 compression="zlib")
tifffile.imwrite("rgb8.tif", rgb8, photometric="rgb")
tifffile.imwrite("rgba16.tif", rgba16, photometric="rgb", extrasamples=["unassalpha"])
tifffile.imwrite("gray_i16.tif", np.array([[-32768, -1, 0, 32767]], np.int16))
tifffile.imwrite("gray_i32.tif", np.array([[-2147483648, -1], [7, 2147483647]], np.int32))
tifffile.imwrite("rgb8_planar.tif", rgb8.transpose(2, 0, 1), photometric="rgb", planarconfig="separate")
tifffile.imwrite("gray_f64.tif", np.array([[1.5]], np.float64))

# JPEG, written by Pillow (libjpeg). Flat images so that decoding is exact or nearly so.
Image.new("L", (8, 8), 100).save("gray8.jpg", quality=100)
Image.new("RGB", (16, 8), (200, 100, 50)).save("rgb8.jpg", quality=100, subsampling=0)
Image.new("CMYK", (8, 8), (10, 20, 30, 40)).save("cmyk.jpg", quality=100)

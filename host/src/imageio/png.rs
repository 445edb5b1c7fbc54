//! PNG through the `png` crate.

use std::io::Write;
use std::path::Path;

use png::{BitDepth, ColorType, Transformations};
use yam_plugin_api::{Image, PixelData};

use super::{DecodeLimits, ImageFormat, ImageIoError};

const FORMAT: ImageFormat = ImageFormat::Png;

/// Decodes a PNG; see [`read_image`](super::read_image) for what each layout becomes.
pub(super) fn decode(
    bytes: &[u8],
    path: &Path,
    limits: &DecodeLimits,
) -> Result<Image, ImageIoError> {
    let corrupt = |e: png::DecodingError| ImageIoError::corrupt(path, FORMAT, e);
    // The crate's own budget covers its row buffers and metadata chunks, not our pixel buffer.
    let budget = png::Limits {
        bytes: limits.max_buffer_bytes().saturating_add(64 << 20),
    };
    let mut decoder = png::Decoder::new_with_limits(bytes, budget);
    // Palette to RGB(A), 1/2/4-bit gray to 8-bit; 16-bit stays 16-bit.
    decoder.set_transformations(Transformations::EXPAND);
    let header = decoder.read_header_info().map_err(corrupt)?;
    limits.check_dimensions(path, header.width.into(), header.height.into())?;
    let mut reader = decoder.read_info().map_err(corrupt)?;
    let (color, depth) = reader.output_color_type();
    let mut buf = vec![0; reader.output_buffer_size()];
    let frame = reader.next_frame(&mut buf).map_err(corrupt)?;
    buf.truncate(frame.buffer_size());

    let (width, height) = (frame.width as usize, frame.height as usize);
    let samples = color.samples();
    let bytes_per_sample = match depth {
        BitDepth::Eight => 1,
        BitDepth::Sixteen => 2,
        other => {
            return Err(unsupported(
                path,
                format!("{other:?}-bit samples after expansion"),
            ));
        }
    };
    let channels = match color {
        ColorType::Grayscale | ColorType::GrayscaleAlpha => 1,
        ColorType::Rgb => 3,
        ColorType::Rgba => 4,
        ColorType::Indexed => return Err(unsupported(path, "an unexpanded palette".into())),
    };
    // Keep the first `channels` samples of each pixel: drops the alpha of gray+alpha.
    let pixel_bytes = samples * bytes_per_sample;
    let keep = channels * bytes_per_sample;
    if keep != pixel_bytes {
        buf = buf
            .chunks_exact(pixel_bytes)
            .flat_map(|px| &px[..keep])
            .copied()
            .collect();
    }
    let data = if bytes_per_sample == 1 {
        PixelData::U8(buf)
    } else {
        PixelData::U16(
            buf.chunks_exact(2)
                .map(|c| u16::from_be_bytes([c[0], c[1]]))
                .collect(),
        )
    };
    Image::new(width, height, channels, data).map_err(|e| ImageIoError::corrupt(path, FORMAT, e))
}

/// Encodes a `u8` or `u16` image with 1, 3 or 4 channels (checked by the caller).
pub(super) fn encode(img: &Image, out: impl Write, path: &Path) -> Result<(), ImageIoError> {
    let color = match img.channels {
        1 => ColorType::Grayscale,
        3 => ColorType::Rgb,
        4 => ColorType::Rgba,
        n => unreachable!("check_writable refuses {n} channels for PNG"),
    };
    let (depth, bytes) = match &img.data {
        PixelData::U8(v) => (BitDepth::Eight, std::borrow::Cow::Borrowed(v.as_slice())),
        PixelData::U16(v) => (
            BitDepth::Sixteen,
            v.iter().flat_map(|x| x.to_be_bytes()).collect(),
        ),
        other => unreachable!("check_writable refuses {} for PNG", other.dtype()),
    };
    let (width, height) = dims_u32(img, path)?;
    let mut encoder = png::Encoder::new(out, width, height);
    encoder.set_color(color);
    encoder.set_depth(depth);
    let fail = |e: png::EncodingError| match e {
        png::EncodingError::IoError(e) => ImageIoError::io(path, "write", e),
        other => ImageIoError::Encode {
            path: path.to_path_buf(),
            format: FORMAT,
            message: other.to_string(),
        },
    };
    let mut writer = encoder.write_header().map_err(fail)?;
    writer.write_image_data(&bytes).map_err(fail)?;
    writer.finish().map_err(fail)
}

/// PNG sizes are `u32`.
fn dims_u32(img: &Image, path: &Path) -> Result<(u32, u32), ImageIoError> {
    match (u32::try_from(img.width), u32::try_from(img.height)) {
        (Ok(w), Ok(h)) => Ok((w, h)),
        _ => Err(ImageIoError::Encode {
            path: path.to_path_buf(),
            format: FORMAT,
            message: format!(
                "{}x{} is larger than PNG allows (2^31-1 per side)",
                img.width, img.height
            ),
        }),
    }
}

fn unsupported(path: &Path, found: String) -> ImageIoError {
    ImageIoError::UnsupportedLayout {
        path: path.to_path_buf(),
        format: FORMAT,
        found,
        expected: "8/16-bit gray, gray+alpha, RGB, RGBA or palette",
    }
}

#[cfg(test)]
mod tests {
    use super::super::{assert_fixture, fixture, read_image};
    use super::*;
    use PixelData::{U16, U8};

    #[test]
    fn reads_pillow_and_opencv_pngs() {
        assert_fixture("gray8.png", (3, 2, 1), U8(vec![0, 1, 2, 127, 128, 255]));
        assert_fixture(
            "gray16.png",
            (3, 2, 1),
            U16(vec![0, 1, 256, 4095, 32768, 65535]),
        );
        let rgb = vec![255, 0, 0, 0, 255, 0, 0, 0, 255, 10, 20, 30];
        assert_fixture("rgb8.png", (2, 2, 3), U8(rgb));
        assert_fixture("rgba8.png", (2, 1, 4), U8((1..=8).collect()));
        assert_fixture("rgb16.png", (2, 1, 3), U16(vec![1, 2, 3, 256, 512, 65535]));
        assert_fixture("rgba16.png", (1, 1, 4), U16(vec![1000, 2000, 3000, 4000]));
    }

    #[test]
    fn expands_palette_and_low_bit_gray_and_drops_gray_alpha() {
        // Indices 2, 0, 1 into [red, green, blue] (2-bit palette).
        let palette = vec![0, 0, 255, 255, 0, 0, 0, 255, 0];
        assert_fixture("palette.png", (3, 1, 3), U8(palette));
        assert_fixture("gray1.png", (4, 1, 1), U8(vec![0, 255, 255, 0]));
        assert_fixture("gray_alpha8.png", (3, 1, 1), U8(vec![10, 20, 30]));
    }

    #[test]
    fn a_truncated_png_is_a_corrupt_file_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cut.png");
        let good = std::fs::read(fixture("rgb8.png")).unwrap();
        std::fs::write(&path, &good[..good.len() - 20]).unwrap();
        let e = read_image(&path, &DecodeLimits::default()).unwrap_err();
        assert!(
            matches!(e, ImageIoError::Corrupt { format: FORMAT, .. }),
            "{e}"
        );
        let prefix = format!("{}: corrupt or truncated PNG data: ", path.display());
        assert!(e.to_string().starts_with(&prefix), "{e}");
    }

    #[test]
    fn a_huge_header_is_refused_before_allocating() {
        // A valid signature and IHDR for 100000 x 100000 RGBA16 (80 GB), and no pixel data.
        let mut bytes = Vec::new();
        let mut encoder = png::Encoder::new(&mut bytes, 100_000, 100_000);
        encoder.set_color(ColorType::Rgba);
        encoder.set_depth(BitDepth::Sixteen);
        drop(encoder.write_header().unwrap());
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("huge.png");
        std::fs::write(&path, &bytes).unwrap();
        let e = read_image(&path, &DecodeLimits::default()).unwrap_err();
        assert_eq!(
            e.to_string(),
            format!(
                "{}: 100000x100000 = 1.0e10 pixels exceeds the limit of 268435456 pixels \
                 (--max-pixels)",
                path.display()
            )
        );
    }
}

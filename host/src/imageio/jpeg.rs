//! JPEG decoding through `jpeg-decoder` (there is no encoder: see [`write_image`](super::write_image)).

use std::path::Path;

use jpeg_decoder::{Decoder, PixelFormat};
use yam_plugin_api::{Image, PixelData};

use super::{DecodeLimits, ImageFormat, ImageIoError};

const FORMAT: ImageFormat = ImageFormat::Jpeg;

/// Decodes an 8-bit gray or RGB JPEG (YCbCr is converted to RGB by the decoder), or a 16-bit
/// lossless gray one as `u16`.
pub(super) fn decode(
    bytes: &[u8],
    path: &Path,
    limits: &DecodeLimits,
) -> Result<Image, ImageIoError> {
    let corrupt = |e: jpeg_decoder::Error| ImageIoError::corrupt(path, FORMAT, e);
    let mut decoder = Decoder::new(bytes);
    decoder.read_info().map_err(corrupt)?;
    let info = decoder
        .info()
        .ok_or_else(|| ImageIoError::corrupt(path, FORMAT, "no frame header"))?;
    let (width, height) = (usize::from(info.width), usize::from(info.height));
    limits.check_dimensions(path, width as u64, height as u64)?;
    let channels = match info.pixel_format {
        PixelFormat::L8 | PixelFormat::L16 => 1,
        PixelFormat::RGB24 => 3,
        PixelFormat::CMYK32 => {
            return Err(ImageIoError::UnsupportedLayout {
                path: path.to_path_buf(),
                format: FORMAT,
                found: "CMYK".into(),
                expected: "gray or RGB (YCbCr)",
            })
        }
    };
    decoder.set_max_decoding_buffer_size(width * height * info.pixel_format.pixel_bytes());
    let pixels = decoder.decode().map_err(corrupt)?;
    let data = match info.pixel_format {
        // The decoder hands 16-bit samples over in native byte order.
        PixelFormat::L16 => PixelData::U16(
            pixels
                .chunks_exact(2)
                .map(|c| u16::from_ne_bytes([c[0], c[1]]))
                .collect(),
        ),
        _ => PixelData::U8(pixels),
    };
    Image::new(width, height, channels, data).map_err(|e| ImageIoError::corrupt(path, FORMAT, e))
}

#[cfg(test)]
mod tests {
    use super::super::{assert_fixture, fixture, read_image};
    use super::*;

    #[test]
    fn reads_pillow_jpegs() {
        // Flat images: the DC term alone carries them, so libjpeg's own decode is exact.
        assert_fixture("gray8.jpg", (8, 8, 1), PixelData::U8(vec![100; 64]));
        let img = read_image(&fixture("rgb8.jpg"), &DecodeLimits::default()).unwrap();
        assert_eq!((img.width, img.height, img.channels), (16, 8, 3));
        let PixelData::U8(v) = img.data else {
            panic!("{:?}", img.dtype())
        };
        // Decoders may differ by a count or so in the YCbCr -> RGB rounding.
        for px in v.chunks_exact(3) {
            for (got, want) in px.iter().zip([200u8, 100, 50]) {
                assert!(got.abs_diff(want) <= 2, "{px:?}");
            }
        }
    }

    #[test]
    fn cmyk_is_refused_by_name() {
        let path = fixture("cmyk.jpg");
        let e = read_image(&path, &DecodeLimits::default()).unwrap_err();
        assert_eq!(
            e.to_string(),
            format!(
                "{}: unsupported JPEG layout: found CMYK; yam reads gray or RGB (YCbCr)",
                path.display()
            )
        );
    }

    #[test]
    fn a_header_then_garbage_is_a_corrupt_file_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("garbage.jpg");
        let good = std::fs::read(fixture("rgb8.jpg")).unwrap();
        for bytes in [
            [&[0xff, 0xd8, 0xff, 0xe0][..], &[0x5a; 300]].concat(),
            [&good[..good.len() / 2], &[0x5a; 300]].concat(),
        ] {
            std::fs::write(&path, bytes).unwrap();
            let e = read_image(&path, &DecodeLimits::default()).unwrap_err();
            assert!(
                matches!(e, ImageIoError::Corrupt { format: FORMAT, .. }),
                "{e}"
            );
            assert!(
                e.to_string().starts_with(&path.display().to_string()),
                "{e}"
            );
        }
    }

    #[test]
    fn a_huge_frame_header_is_refused_before_decoding() {
        // Patch the SOF0 frame of a real file to claim 65535 x 65535.
        let mut bytes = std::fs::read(fixture("gray8.jpg")).unwrap();
        let sof = bytes.windows(2).position(|w| w == [0xff, 0xc0]).unwrap();
        bytes[sof + 5..sof + 9].copy_from_slice(&[0xff; 4]);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("huge.jpg");
        std::fs::write(&path, bytes).unwrap();
        let e = read_image(&path, &DecodeLimits::default()).unwrap_err();
        assert!(matches!(e, ImageIoError::TooManyPixels { .. }), "{e}");
        assert!(
            e.to_string().contains("65535x65535 = 4.3e9 pixels exceeds"),
            "{e}"
        );
    }
}

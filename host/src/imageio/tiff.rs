//! TIFF through the `tiff` crate: the first page, chunky (interleaved) samples.

use std::io::{Cursor, Seek, Write};
use std::path::Path;

use tiff::decoder::{Decoder, DecodingResult};
use tiff::encoder::colortype::{self, ColorType};
use tiff::encoder::compression::Deflate;
use tiff::encoder::{TiffEncoder, TiffKind, TiffValue};
use tiff::tags::{PhotometricInterpretation, PlanarConfiguration, SampleFormat, Tag};
use tiff::TiffError;
use yam_plugin_api::{Image, PixelData};

use super::{DecodeLimits, ImageFormat, ImageIoError};

const FORMAT: ImageFormat = ImageFormat::Tiff;
const READS: &str =
    "1 (gray), 3 (RGB) or 4 (RGBA) interleaved channels of u8, u16, i16, i32 or f32";

/// Decodes the first page of a TIFF.
pub(super) fn decode(
    bytes: &[u8],
    path: &Path,
    limits: &DecodeLimits,
) -> Result<Image, ImageIoError> {
    let fail = |e| map_decode_error(path, e);
    let mut tiff_limits = tiff::decoder::Limits::default();
    tiff_limits.decoding_buffer_size = limits.max_buffer_bytes();
    // One compressed strip or tile can be as large as the file, no larger.
    tiff_limits.intermediate_buffer_size =
        usize::try_from(limits.max_file_bytes).unwrap_or(usize::MAX);
    let mut decoder = Decoder::new(Cursor::new(bytes))
        .map_err(fail)?
        .with_limits(tiff_limits);

    let (width, height) = decoder.dimensions().map_err(fail)?;
    limits.check_dimensions(path, width.into(), height.into())?;
    let (channels, bits) = match decoder.colortype().map_err(fail)? {
        tiff::ColorType::Gray(b) => (1, b),
        tiff::ColorType::RGB(b) => (3, b),
        tiff::ColorType::RGBA(b) => (4, b),
        other => return Err(unsupported(path, format!("{other:?}"))),
    };
    let planar = decoder
        .find_tag_unsigned::<u16>(Tag::PlanarConfiguration)
        .map_err(fail)?;
    if channels > 1 && planar == Some(PlanarConfiguration::Planar.to_u16()) {
        return Err(unsupported(
            path,
            format!("{channels} channels stored as separate planes"),
        ));
    }
    let sample_format = decoder
        .find_tag_unsigned_vec::<u16>(Tag::SampleFormat)
        .map_err(fail)?
        .and_then(|v| v.first().copied())
        .and_then(SampleFormat::from_u16)
        .unwrap_or(SampleFormat::Uint);
    // Refuse unsupported sample types before the crate allocates a buffer for them.
    let supported = matches!(
        (sample_format, bits),
        (SampleFormat::Uint, 8 | 16) | (SampleFormat::Int, 16 | 32) | (SampleFormat::IEEEFP, 32)
    );
    if !supported {
        return Err(unsupported(
            path,
            format!("{bits}-bit {sample_format:?} samples"),
        ));
    }

    let data = match decoder.read_image().map_err(fail)? {
        DecodingResult::U8(v) => PixelData::U8(v),
        DecodingResult::U16(v) => PixelData::U16(v),
        DecodingResult::I16(v) => PixelData::I16(v),
        DecodingResult::I32(v) => PixelData::I32(v),
        DecodingResult::F32(v) => PixelData::F32(v),
        other => return Err(unsupported(path, format!("{other:?}"))),
    };
    Image::new(width as usize, height as usize, channels, data)
        .map_err(|e| ImageIoError::corrupt(path, FORMAT, e))
}

/// Encodes any dtype with 1, 3 or 4 channels (checked by the caller), Deflate-compressed.
pub(super) fn encode(img: &Image, out: impl Write + Seek, path: &Path) -> Result<(), ImageIoError> {
    // Classic TIFF has 32-bit offsets; leave headroom for compression that does not shrink.
    let big = (img.data.len() * img.dtype().size_bytes()) as u64 > 3 << 30;
    encode_as(img, out, path, big)
}

/// [`encode`] as classic TIFF or, with `big`, as BigTIFF.
fn encode_as(
    img: &Image,
    out: impl Write + Seek,
    path: &Path,
    big: bool,
) -> Result<(), ImageIoError> {
    let too_big = || ImageIoError::Encode {
        path: path.to_path_buf(),
        format: FORMAT,
        message: format!(
            "{}x{} is larger than TIFF allows (2^32-1 per side)",
            img.width, img.height
        ),
    };
    let width = u32::try_from(img.width).map_err(|_| too_big())?;
    let height = u32::try_from(img.height).map_err(|_| too_big())?;
    let result = if big {
        TiffEncoder::new_big(out).and_then(|mut e| write_any(&mut e, img, width, height))
    } else {
        TiffEncoder::new(out).and_then(|mut e| write_any(&mut e, img, width, height))
    };
    result.map_err(|e| match e {
        TiffError::IoError(e) => ImageIoError::io(path, "write", e),
        other => ImageIoError::Encode {
            path: path.to_path_buf(),
            format: FORMAT,
            message: other.to_string(),
        },
    })
}

fn write_any<W: Write + Seek, K: TiffKind>(
    enc: &mut TiffEncoder<W, K>,
    img: &Image,
    w: u32,
    h: u32,
) -> tiff::TiffResult<()> {
    use colortype::*;
    use PixelData as P;
    match (&img.data, img.channels) {
        (P::U8(v), 1) => write::<Gray8, _, _>(enc, w, h, v),
        (P::U8(v), 3) => write::<RGB8, _, _>(enc, w, h, v),
        (P::U8(v), 4) => write::<RGBA8, _, _>(enc, w, h, v),
        (P::U16(v), 1) => write::<Gray16, _, _>(enc, w, h, v),
        (P::U16(v), 3) => write::<RGB16, _, _>(enc, w, h, v),
        (P::U16(v), 4) => write::<RGBA16, _, _>(enc, w, h, v),
        (P::I16(v), 1) => write::<GrayI16, _, _>(enc, w, h, v),
        (P::I16(v), 3) => write::<RgbI16, _, _>(enc, w, h, v),
        (P::I16(v), 4) => write::<RgbaI16, _, _>(enc, w, h, v),
        (P::I32(v), 1) => write::<GrayI32, _, _>(enc, w, h, v),
        (P::I32(v), 3) => write::<RgbI32, _, _>(enc, w, h, v),
        (P::I32(v), 4) => write::<RgbaI32, _, _>(enc, w, h, v),
        (P::F32(v), 1) => write::<Gray32Float, _, _>(enc, w, h, v),
        (P::F32(v), 3) => write::<RGB32Float, _, _>(enc, w, h, v),
        (P::F32(v), 4) => write::<RGBA32Float, _, _>(enc, w, h, v),
        (_, n) => unreachable!("check_writable refuses {n} channels for TIFF"),
    }
}

fn write<C: ColorType, W: Write + Seek, K: TiffKind>(
    enc: &mut TiffEncoder<W, K>,
    w: u32,
    h: u32,
    data: &[C::Inner],
) -> tiff::TiffResult<()>
where
    [C::Inner]: TiffValue,
{
    let mut image = enc.new_image_with_compression::<C, _>(w, h, Deflate::default())?;
    if C::BITS_PER_SAMPLE.len() == 4 {
        // The crate does not say what the 4th sample is; 2 = unassociated alpha, so other
        // readers see RGBA rather than RGB plus an unknown extra sample.
        image.encoder().write_tag(Tag::ExtraSamples, 2u16)?;
    }
    image.write_data(data)
}

/// Signed RGB(A) colour types, which the crate has only for gray.
macro_rules! signed_rgb {
    ($name:ident, $inner:ty, $bits:expr, $n:expr) => {
        struct $name;
        impl ColorType for $name {
            type Inner = $inner;
            const TIFF_VALUE: PhotometricInterpretation = PhotometricInterpretation::RGB;
            const BITS_PER_SAMPLE: &'static [u16] = &[$bits; $n];
            const SAMPLE_FORMAT: &'static [SampleFormat] = &[SampleFormat::Int; $n];
        }
    };
}
signed_rgb!(RgbI16, i16, 16, 3);
signed_rgb!(RgbaI16, i16, 16, 4);
signed_rgb!(RgbI32, i32, 32, 3);
signed_rgb!(RgbaI32, i32, 32, 4);

fn map_decode_error(path: &Path, e: TiffError) -> ImageIoError {
    match e {
        TiffError::UnsupportedError(e) => unsupported(path, e.to_string()),
        other => ImageIoError::corrupt(path, FORMAT, other),
    }
}

fn unsupported(path: &Path, found: String) -> ImageIoError {
    ImageIoError::UnsupportedLayout {
        path: path.to_path_buf(),
        format: FORMAT,
        found,
        expected: READS,
    }
}

#[cfg(test)]
mod tests {
    use super::super::{assert_fixture, fixture, read_image};
    use super::*;
    use PixelData::{F32, I16, I32, U16, U8};

    #[test]
    fn reads_tifffile_tiffs() {
        assert_fixture("gray8.tif", (3, 2, 1), U8(vec![0, 1, 2, 127, 128, 255]));
        assert_fixture(
            "gray16_be.tif",
            (3, 2, 1),
            U16(vec![0, 1, 256, 4095, 32768, 65535]),
        );
        assert_fixture(
            "gray_f32_zlib.tif",
            (2, 2, 1),
            F32(vec![0.5, -1.25, 3.0e8, 1.0e-7]),
        );
        let rgb = vec![255, 0, 0, 0, 255, 0, 0, 0, 255, 10, 20, 30];
        assert_fixture("rgb8.tif", (2, 2, 3), U8(rgb));
        assert_fixture("rgba16.tif", (1, 1, 4), U16(vec![1000, 2000, 3000, 4000]));
        assert_fixture(
            "gray_i16.tif",
            (4, 1, 1),
            I16(vec![i16::MIN, -1, 0, i16::MAX]),
        );
        assert_fixture(
            "gray_i32.tif",
            (2, 2, 1),
            I32(vec![i32::MIN, -1, 7, i32::MAX]),
        );
    }

    #[test]
    fn unsupported_layouts_say_what_was_found() {
        let cases = [
            ("rgb8_planar.tif", "3 channels stored as separate planes"),
            ("gray_f64.tif", "64-bit IEEEFP samples"),
        ];
        for (name, found) in cases {
            let path = fixture(name);
            let e = read_image(&path, &DecodeLimits::default()).unwrap_err();
            assert_eq!(
                e.to_string(),
                format!(
                    "{}: unsupported TIFF layout: found {found}; yam reads {READS}",
                    path.display()
                )
            );
        }
    }

    #[test]
    fn bigtiff_round_trips() {
        // The size that switches to BigTIFF is too large for a test; force it instead.
        let img = Image::new(3, 2, 3, F32([1.5, -2.0, 0.0, 7.0, 8.0, 9.0].repeat(3))).unwrap();
        let path = Path::new("big.tif");
        let mut out = Cursor::new(Vec::new());
        encode_as(&img, &mut out, path, true).unwrap();
        let bytes = out.into_inner();
        assert_eq!(&bytes[..4], b"II+\0");
        assert_eq!(decode(&bytes, path, &DecodeLimits::default()).unwrap(), img);
    }

    #[test]
    fn writes_rgba_with_an_alpha_extra_sample() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.tif");
        let img = Image::new(1, 1, 4, I16(vec![-1, 2, -3, 4])).unwrap();
        super::super::write_image(&path, &img).unwrap();
        let bytes = std::fs::read(&path).unwrap();
        let mut decoder = Decoder::new(Cursor::new(bytes)).unwrap();
        let extra = decoder.get_tag_unsigned::<u16>(Tag::ExtraSamples).unwrap();
        assert_eq!(extra, 2);
    }
}

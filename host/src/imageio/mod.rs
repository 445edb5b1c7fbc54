//! Reading and writing images (PNG, TIFF, JPEG, NPY).
//!
//! [`read_image`] picks the decoder from the file's content (its magic bytes), not its name, and
//! checks [`DecodeLimits`] before allocating pixels. [`write_image`] picks the encoder from the
//! extension, refuses any dtype or channel count the format cannot hold exactly (it never
//! converts), and writes atomically: a temporary file in the target directory is renamed over the
//! target only once it is complete, so a failed write leaves no partial file behind and leaves an
//! existing file untouched.

mod jpeg;
mod limits;
pub mod npy;
mod png;
mod tiff;

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use yam_plugin_api::{DType, Image};

pub use limits::DecodeLimits;

/// Reads the first image of a PNG, TIFF, JPEG or NPY file.
///
/// The format comes from the content; a file whose extension names another format is read
/// anyway (with a warning). What each format yields:
/// - PNG: gray, RGB or RGBA, 8 or 16 bits (16-bit samples become `u16`). 1/2/4-bit gray is
///   scaled to `u8` (1 -> 255), a palette is expanded to RGB. A transparency chunk (`tRNS`)
///   turns palette and RGB images into RGBA. Gray+alpha is read as gray: the alpha channel is
///   dropped, as the pipeline has no 2-channel images.
/// - TIFF (first page): gray, RGB or RGBA with `u8`, `u16`, `i16`, `i32` or `f32` samples.
/// - JPEG: 8-bit gray or RGB (16-bit lossless gray as `u16`); CMYK is refused.
/// - NPY: whatever [`npy::decode`] accepts.
///
/// Files over [`DecodeLimits::max_file_bytes`] and images over [`DecodeLimits::max_pixels`] are
/// refused before their pixels are allocated; so are zero-sized images.
pub fn read_image(path: &Path, limits: &DecodeLimits) -> Result<Image, ImageIoError> {
    let bytes = read_limited(path, limits.max_file_bytes)?;
    decode_file(path, &bytes, limits)
}

/// [`read_image`] after the file has been read into `bytes`.
fn decode_file(path: &Path, bytes: &[u8], limits: &DecodeLimits) -> Result<Image, ImageIoError> {
    let Some(format) = ImageFormat::from_magic(bytes) else {
        return Err(ImageIoError::UnknownContent {
            path: path.to_path_buf(),
            detail: describe_unknown(path, bytes),
        });
    };
    if let Some(named) = ImageFormat::from_path(path) {
        if named != format {
            tracing::warn!(
                "{}: extension says {named} but the content is {format}; reading it as {format}",
                path.display()
            );
        }
    }
    let image = decode_guarded(format, bytes, path, limits)?;
    if image.is_empty() {
        return Err(ImageIoError::Empty {
            path: path.to_path_buf(),
            width: image.width as u64,
            height: image.height as u64,
        });
    }
    Ok(image)
}

/// Writes `img` in the format named by the extension of `path` (`.png`, `.tif`/`.tiff`,
/// `.npy`), atomically.
///
/// - PNG holds `u8` and `u16` with 1, 3 or 4 channels.
/// - TIFF holds `u8`, `u16`, `i16`, `i32` and `f32` with 1, 3 or 4 channels
///   (Deflate-compressed, BigTIFF past 3 GiB of pixels).
/// - NPY holds every dtype with 1, 3 or 4 channels.
/// - JPEG is not written: yam has no JPEG encoder and the format is lossy.
///
/// A dtype or channel count the format cannot hold is an error naming the formats that can.
/// The directory of `path` must exist.
pub fn write_image(path: &Path, img: &Image) -> Result<(), ImageIoError> {
    let format = ImageFormat::from_path(path).ok_or_else(|| ImageIoError::UnknownExtension {
        path: path.to_path_buf(),
    })?;
    check_writable(path, format, img)?;
    write_atomic(path, |out| match format {
        ImageFormat::Png => png::encode(img, out, path),
        ImageFormat::Tiff => tiff::encode(img, out, path),
        ImageFormat::Npy => out
            .write_all(&npy::encode(img))
            .map_err(|e| ImageIoError::io(path, "write", e)),
        ImageFormat::Jpeg => unreachable!("check_writable refuses JPEG"),
    })
}

/// Writes `value` as pretty-printed JSON with a trailing newline, atomically (see
/// [`write_image`]).
pub fn write_json_atomic(path: &Path, value: &serde_json::Value) -> Result<(), ImageIoError> {
    let mut text = serde_json::to_string_pretty(value).expect("a serde_json::Value always prints");
    text.push('\n');
    write_atomic(path, |out| {
        out.write_all(text.as_bytes())
            .map_err(|e| ImageIoError::io(path, "write", e))
    })
}

/// Reads the whole file, refusing it before reading when it is over `max_bytes`.
fn read_limited(path: &Path, max_bytes: u64) -> Result<Vec<u8>, ImageIoError> {
    use std::io::Read;
    let too_large = |size| ImageIoError::FileTooLarge {
        path: path.to_path_buf(),
        size,
        limit: max_bytes,
    };
    let file = File::open(path).map_err(|e| ImageIoError::io(path, "open", e))?;
    let size = file
        .metadata()
        .map_err(|e| ImageIoError::io(path, "read", e))?
        .len();
    if size > max_bytes {
        return Err(too_large(size));
    }
    let mut bytes = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
    // `take` guards against a file that grows while it is read.
    file.take(max_bytes.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(|e| ImageIoError::io(path, "read", e))?;
    if bytes.len() as u64 > max_bytes {
        return Err(too_large(bytes.len() as u64));
    }
    Ok(bytes)
}

/// Says what the content of an unrecognised file looks like, and what its name promised.
fn describe_unknown(path: &Path, bytes: &[u8]) -> String {
    if bytes.is_empty() {
        return "the file is empty (0 bytes)".to_string();
    }
    let head: Vec<String> = bytes.iter().take(8).map(|b| format!("{b:02x}")).collect();
    let named = match ImageFormat::from_path(path) {
        Some(f) => format!("the extension says {f} but "),
        None => String::new(),
    };
    format!(
        "{named}the content starts with bytes {} and matches no PNG, TIFF, JPEG or NPY signature",
        head.join(" ")
    )
}

/// Runs the decoder for `format`, turning a panic inside a third-party decoder on hostile input
/// into an error for this file rather than the end of the pipeline run.
fn decode_guarded(
    format: ImageFormat,
    bytes: &[u8],
    path: &Path,
    limits: &DecodeLimits,
) -> Result<Image, ImageIoError> {
    let result = std::panic::catch_unwind(|| match format {
        ImageFormat::Png => png::decode(bytes, path, limits),
        ImageFormat::Tiff => tiff::decode(bytes, path, limits),
        ImageFormat::Jpeg => jpeg::decode(bytes, path, limits),
        ImageFormat::Npy => decode_npy(bytes, path, limits),
    });
    result.unwrap_or_else(|panic| {
        let message = panic
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_default();
        Err(ImageIoError::Corrupt {
            path: path.to_path_buf(),
            format,
            message: format!("the decoder panicked: {message}"),
        })
    })
}

/// Decodes a `.npy` with the pixel limit applied before allocation. The NPY decoder limits
/// elements, and channels count as elements; a first try at one element per pixel fails on the
/// header alone when there are several channels, and its shape says how many.
fn decode_npy(bytes: &[u8], path: &Path, limits: &DecodeLimits) -> Result<Image, ImageIoError> {
    let npy_error = |source| ImageIoError::Npy {
        path: path.to_path_buf(),
        source,
    };
    match npy::decode(bytes, limits.max_pixels) {
        Err(npy::NpyError::TooLarge { shape, .. }) if matches!(shape.len(), 2 | 3) => {
            limits.check_dimensions(path, shape[1], shape[0])?;
            let channels = shape.get(2).copied().unwrap_or(1).min(4);
            npy::decode(bytes, limits.max_pixels.saturating_mul(channels)).map_err(npy_error)
        }
        result => result.map_err(npy_error),
    }
}

/// Refuses images that `format` cannot hold exactly, and malformed or empty images.
fn check_writable(path: &Path, format: ImageFormat, img: &Image) -> Result<(), ImageIoError> {
    // The fields are public, so the shape may be anything; saturating keeps this panic-free.
    let expected = img
        .width
        .saturating_mul(img.height)
        .saturating_mul(img.channels);
    if img.data.len() != expected {
        return Err(ImageIoError::BadBuffer {
            path: path.to_path_buf(),
            width: img.width,
            height: img.height,
            channels: img.channels,
            expected,
            actual: img.data.len(),
        });
    }
    if img.is_empty() {
        return Err(ImageIoError::Empty {
            path: path.to_path_buf(),
            width: img.width as u64,
            height: img.height as u64,
        });
    }
    if format == ImageFormat::Jpeg {
        return Err(ImageIoError::JpegWrite {
            path: path.to_path_buf(),
        });
    }
    if !format.can_hold(img.dtype(), img.channels) {
        return Err(ImageIoError::CannotHold {
            path: path.to_path_buf(),
            format,
            dtype: img.dtype(),
            channels: img.channels,
            advice: ImageFormat::advice(img.dtype(), img.channels),
        });
    }
    Ok(())
}

/// Writes through `write` into a temporary file next to `path` and renames it onto `path` only
/// when `write` and the flush succeeded; on any error the temporary file is deleted on drop.
fn write_atomic<F>(path: &Path, write: F) -> Result<(), ImageIoError>
where
    F: FnOnce(&mut BufWriter<&File>) -> Result<(), ImageIoError>,
{
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    if !dir.is_dir() {
        return Err(ImageIoError::MissingDir {
            path: path.to_path_buf(),
            dir: dir.to_path_buf(),
        });
    }
    // A hidden name that says whose temporary file it is, if one is ever left by a crash.
    let prefix = format!(
        ".{}.",
        path.file_name().unwrap_or_default().to_string_lossy()
    );
    let mut builder = tempfile::Builder::new();
    builder.prefix(&prefix).suffix(".tmp");
    // tempfile creates 0600 files; ask for 0666 so the output gets the umask's usual mode.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        builder.permissions(std::fs::Permissions::from_mode(0o666));
    }
    let tmp = builder.tempfile_in(dir).map_err(|e| {
        ImageIoError::io(
            path,
            format!("create a temporary file in {}", dir.display()),
            e,
        )
    })?;
    let mut out = BufWriter::new(tmp.as_file());
    write(&mut out)?;
    out.into_inner()
        .map_err(|e| ImageIoError::io(path, "write", e.into_error()))?;
    tmp.as_file()
        .sync_all()
        .map_err(|e| ImageIoError::io(path, "write", e))?;
    tmp.persist(path)
        .map_err(|e| ImageIoError::io(path, "rename the temporary file onto", e.error))?;
    Ok(())
}

/// A file format yam reads or writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ImageFormat {
    /// Portable Network Graphics.
    Png,
    /// Tagged Image File Format (first page only).
    Tiff,
    /// JPEG (read only).
    Jpeg,
    /// NumPy `.npy` array.
    Npy,
}

impl ImageFormat {
    /// Every format, in the order messages list them.
    pub const ALL: [ImageFormat; 4] = [
        ImageFormat::Png,
        ImageFormat::Tiff,
        ImageFormat::Jpeg,
        ImageFormat::Npy,
    ];

    /// The format named by the extension of `path` (case-insensitive), if any.
    pub fn from_path(path: &Path) -> Option<ImageFormat> {
        let ext = path.extension()?.to_str()?.to_ascii_lowercase();
        ImageFormat::ALL
            .into_iter()
            .find(|f| f.extensions().contains(&ext.as_str()))
    }

    /// The format whose signature starts `bytes`, if any.
    pub fn from_magic(bytes: &[u8]) -> Option<ImageFormat> {
        const SIGNATURES: [(&[u8], ImageFormat); 7] = [
            (b"\x89PNG\r\n\x1a\n", ImageFormat::Png),
            (b"II*\0", ImageFormat::Tiff),
            (b"MM\0*", ImageFormat::Tiff),
            (b"II+\0", ImageFormat::Tiff), // BigTIFF
            (b"MM\0+", ImageFormat::Tiff),
            (b"\xff\xd8\xff", ImageFormat::Jpeg),
            (b"\x93NUMPY", ImageFormat::Npy),
        ];
        SIGNATURES
            .into_iter()
            .find(|(magic, _)| bytes.starts_with(magic))
            .map(|(_, f)| f)
    }

    /// The extensions (lowercase, without the dot) that name this format; the first is the one
    /// messages suggest.
    pub const fn extensions(self) -> &'static [&'static str] {
        match self {
            ImageFormat::Png => &["png"],
            ImageFormat::Tiff => &["tif", "tiff"],
            ImageFormat::Jpeg => &["jpg", "jpeg"],
            ImageFormat::Npy => &["npy"],
        }
    }

    /// The upper-case name used in messages (`"PNG"`).
    pub const fn name(self) -> &'static str {
        match self {
            ImageFormat::Png => "PNG",
            ImageFormat::Tiff => "TIFF",
            ImageFormat::Jpeg => "JPEG",
            ImageFormat::Npy => "NPY",
        }
    }

    /// True when [`write_image`] can store images of `dtype` with `channels` channels in this
    /// format exactly.
    pub fn can_hold(self, dtype: DType, channels: usize) -> bool {
        let image_channels = matches!(channels, 1 | 3 | 4);
        // 2-channel or >4-channel files could be written to TIFF or NPY, but no reader
        // (ours included) would take them back as the same image.
        match self {
            ImageFormat::Png => image_channels && matches!(dtype, DType::U8 | DType::U16),
            ImageFormat::Tiff | ImageFormat::Npy => image_channels,
            ImageFormat::Jpeg => false,
        }
    }

    /// The formats [`write_image`] can store `dtype` x `channels` in exactly, in [`Self::ALL`]
    /// order.
    pub fn holding(dtype: DType, channels: usize) -> Vec<ImageFormat> {
        ImageFormat::ALL
            .into_iter()
            .filter(|f| f.can_hold(dtype, channels))
            .collect()
    }

    /// Where `dtype` x `channels` can go instead, for messages (`"write .tif or .npy instead"`).
    fn advice(dtype: DType, channels: usize) -> String {
        let exts: Vec<String> = ImageFormat::holding(dtype, channels)
            .into_iter()
            .map(|f| format!(".{}", f.extensions()[0]))
            .collect();
        if exts.is_empty() {
            "yam writes only images with 1, 3 or 4 channels".to_string()
        } else {
            format!("write {} instead", exts.join(" or "))
        }
    }
}

impl std::fmt::Display for ImageFormat {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Why an image or report could not be read or written. Every message starts with the file.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ImageIoError {
    /// The operating system refused to open, read, write or rename a file.
    #[error("{}: cannot {action}: {source}", .path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// What was being done (`"open"`, `"write"`, ...).
        action: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// The decoder rejected the data (truncated, corrupt, or not really that format).
    #[error("{}: corrupt or truncated {format} data: {message}", .path.display())]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// The format its signature announced.
        format: ImageFormat,
        /// The decoder's message.
        message: String,
    },
    /// The NPY decoder rejected the file.
    #[error("{}: {source}", .path.display())]
    Npy {
        /// The file.
        path: PathBuf,
        /// Why.
        source: npy::NpyError,
    },
    /// The content matches no supported signature.
    #[error("{}: not a PNG, TIFF, JPEG or NPY file: {detail}", .path.display())]
    UnknownContent {
        /// The file.
        path: PathBuf,
        /// What was found instead.
        detail: String,
    },
    /// A valid file in a layout yam does not read (e.g. CMYK, 1-bit TIFF, f64 samples).
    #[error("{}: unsupported {format} layout: found {found}; yam reads {expected}", .path.display())]
    UnsupportedLayout {
        /// The file.
        path: PathBuf,
        /// Its format.
        format: ImageFormat,
        /// What the file holds.
        found: String,
        /// What yam reads in this format.
        expected: &'static str,
    },
    /// The header declares more pixels than [`DecodeLimits::max_pixels`].
    #[error(
        "{}: {width}x{height} = {:.1e} pixels exceeds the limit of {limit} pixels (--max-pixels)",
        .path.display(), *.width as f64 * *.height as f64
    )]
    TooManyPixels {
        /// The file.
        path: PathBuf,
        /// Declared width.
        width: u64,
        /// Declared height.
        height: u64,
        /// The limit.
        limit: u64,
    },
    /// The file is larger than [`DecodeLimits::max_file_bytes`].
    #[error(
        "{}: the file is {size} bytes, over the limit of {limit} bytes (--max-file-bytes)",
        .path.display()
    )]
    FileTooLarge {
        /// The file.
        path: PathBuf,
        /// Its size.
        size: u64,
        /// The limit.
        limit: u64,
    },
    /// The image has no pixels.
    #[error("{}: the image is empty ({width}x{height} pixels)", .path.display())]
    Empty {
        /// The file.
        path: PathBuf,
        /// Width.
        width: u64,
        /// Height.
        height: u64,
    },
    /// The output extension names no format yam writes.
    #[error(
        "{}: unknown image extension; yam writes .png, .tif, .tiff and .npy (and also reads \
         .jpg, .jpeg)",
        .path.display()
    )]
    UnknownExtension {
        /// The file.
        path: PathBuf,
    },
    /// The output format cannot hold this dtype or channel count exactly.
    #[error(
        "{}: {format} cannot hold {dtype} images with {channels} channel(s); {advice}",
        .path.display()
    )]
    CannotHold {
        /// The file.
        path: PathBuf,
        /// The format its extension names.
        format: ImageFormat,
        /// The image's dtype.
        dtype: DType,
        /// The image's channel count.
        channels: usize,
        /// Which formats can hold it instead.
        advice: String,
    },
    /// JPEG output was asked for.
    #[error(
        "{}: writing JPEG is not supported (yam has no JPEG encoder); write .png, .tif or .npy instead",
        .path.display()
    )]
    JpegWrite {
        /// The file.
        path: PathBuf,
    },
    /// The directory the output should go in does not exist.
    #[error("{}: the output directory {} does not exist", .path.display(), .dir.display())]
    MissingDir {
        /// The file.
        path: PathBuf,
        /// Its directory.
        dir: PathBuf,
    },
    /// The image's buffer does not match its shape.
    #[error(
        "{}: the image buffer holds {actual} elements but {width}x{height}x{channels} needs \
         {expected}",
        .path.display()
    )]
    BadBuffer {
        /// The file.
        path: PathBuf,
        /// Width.
        width: usize,
        /// Height.
        height: usize,
        /// Channels.
        channels: usize,
        /// Elements the shape needs.
        expected: usize,
        /// Elements in the buffer.
        actual: usize,
    },
    /// The encoder failed for a reason other than I/O.
    #[error("{}: encoding {format} failed: {message}", .path.display())]
    Encode {
        /// The file.
        path: PathBuf,
        /// The format.
        format: ImageFormat,
        /// The encoder's message.
        message: String,
    },
}

impl ImageIoError {
    /// An [`ImageIoError::Io`] for `path`.
    fn io(path: &Path, action: impl Into<String>, source: std::io::Error) -> ImageIoError {
        ImageIoError::Io {
            path: path.to_path_buf(),
            action: action.into(),
            source,
        }
    }

    /// An [`ImageIoError::Corrupt`] for `path`.
    fn corrupt(path: &Path, format: ImageFormat, message: impl std::fmt::Display) -> ImageIoError {
        ImageIoError::Corrupt {
            path: path.to_path_buf(),
            format,
            message: message.to_string(),
        }
    }
}

/// A file under `host/tests/data` (see the README there for how each was made).
#[cfg(test)]
fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
}

/// Reads a fixture and checks its shape and pixels.
#[cfg(test)]
fn assert_fixture(
    name: &str,
    (width, height, channels): (usize, usize, usize),
    data: yam_plugin_api::PixelData,
) {
    let img =
        read_image(&fixture(name), &DecodeLimits::default()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        (img.width, img.height, img.channels),
        (width, height, channels),
        "{name}"
    );
    assert_eq!(img.data, data, "{name}");
}

#[cfg(test)]
mod tests {
    use super::*;
    use yam_plugin_api::PixelData;

    /// A `width x height x channels` image of `dtype` whose first elements are the type's
    /// extremes (and, for f32, NaN, infinities, -0 and a subnormal) and the rest vary.
    fn sample(dtype: DType, width: usize, height: usize, channels: usize) -> Image {
        let n = width * height * channels;
        let data = match dtype {
            DType::U8 => PixelData::U8(ramp(n, &[0, u8::MAX], |i| (i * 37 + 11) as u8)),
            DType::U16 => PixelData::U16(ramp(n, &[0, u16::MAX, 256], |i| (i * 7919) as u16)),
            DType::I16 => PixelData::I16(ramp(n, &[i16::MIN, i16::MAX, -1], |i| (i * 7919) as i16)),
            DType::I32 => PixelData::I32(ramp(n, &[i32::MIN, i32::MAX, -1], |i| {
                (i as i32).wrapping_mul(-104_729)
            })),
            DType::F32 => PixelData::F32(ramp(
                n,
                &[
                    f32::NAN,
                    f32::INFINITY,
                    f32::NEG_INFINITY,
                    -0.0,
                    1e-40,
                    f32::MAX,
                ],
                |i| i as f32 * -0.37 + 0.125,
            )),
        };
        Image::new(width, height, channels, data).unwrap()
    }

    fn ramp<T: Copy>(n: usize, extremes: &[T], f: impl Fn(usize) -> T) -> Vec<T> {
        (0..n)
            .map(|i| extremes.get(i).copied().unwrap_or_else(|| f(i)))
            .collect()
    }

    /// Bit-exact equality (so NaN and -0.0 count).
    fn assert_same(a: &Image, b: &Image) {
        assert_eq!(
            (a.width, a.height, a.channels, a.dtype()),
            (b.width, b.height, b.channels, b.dtype())
        );
        assert!(
            a.data.to_ne_bytes() == b.data.to_ne_bytes(),
            "pixels differ"
        );
    }

    fn names_in(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn every_format_dtype_and_channel_count_round_trips_or_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        for ext in ["png", "tif", "tiff", "npy", "jpg"] {
            for dtype in DType::ALL {
                for channels in [1, 2, 3, 4] {
                    // 67 x 45 spans several TIFF strips.
                    let img = sample(dtype, 67, 45, channels);
                    let path = dir.path().join(format!("{dtype}_{channels}.{ext}"));
                    let format = ImageFormat::from_path(&path).unwrap();
                    let written = write_image(&path, &img);
                    if format.can_hold(dtype, channels) {
                        written.unwrap_or_else(|e| panic!("{e}"));
                        let back = read_image(&path, &DecodeLimits::default())
                            .unwrap_or_else(|e| panic!("{e}"));
                        assert_same(&img, &back);
                    } else {
                        let e = written.unwrap_err().to_string();
                        assert!(e.starts_with(&path.display().to_string()), "{e}");
                        assert!(!path.exists(), "{e}");
                    }
                }
            }
        }
        // Nothing but finished files: no temporary file survived.
        assert!(names_in(dir.path()).iter().all(|n| !n.ends_with(".tmp")));
    }

    #[test]
    fn what_each_format_holds() {
        use ImageFormat::*;
        for c in [1, 3, 4] {
            for d in DType::ALL {
                assert_eq!(Png.can_hold(d, c), matches!(d, DType::U8 | DType::U16));
                assert!(Tiff.can_hold(d, c) && Npy.can_hold(d, c));
                assert!(!Jpeg.can_hold(d, c));
            }
        }
        assert!(!Npy.can_hold(DType::U8, 2) && !Tiff.can_hold(DType::U8, 5));
    }

    #[test]
    fn refusals_name_the_format_the_dtype_and_where_it_fits() {
        let dir = tempfile::tempdir().unwrap();
        let cases = [
            (
                sample(DType::F32, 2, 2, 1),
                "a.png",
                "PNG cannot hold f32 images with 1 channel(s); write .tif or .npy instead",
            ),
            (
                sample(DType::I32, 2, 2, 1),
                "labels.png",
                "PNG cannot hold i32 images with 1 channel(s); write .tif or .npy instead",
            ),
            (
                sample(DType::U8, 2, 2, 2),
                "a.tif",
                "TIFF cannot hold u8 images with 2 channel(s); yam writes only images with 1, 3 \
                 or 4 channels",
            ),
            (
                sample(DType::U8, 2, 2, 3),
                "a.JPG",
                "writing JPEG is not supported (yam has no JPEG encoder); write .png, .tif or \
                 .npy instead",
            ),
            (
                sample(DType::U8, 2, 2, 3),
                "a.bmp",
                "unknown image extension; yam writes .png, .tif, .tiff and .npy (and also \
                 reads .jpg, .jpeg)",
            ),
            (
                Image::zeros(0, 3, 1, DType::U8),
                "empty.png",
                "the image is empty (0x3 pixels)",
            ),
        ];
        for (img, name, message) in cases {
            let path = dir.path().join(name);
            let e = write_image(&path, &img).unwrap_err().to_string();
            assert_eq!(e, format!("{}: {message}", path.display()));
        }
        assert!(names_in(dir.path()).is_empty());
    }

    #[test]
    fn a_failed_write_leaves_an_existing_file_untouched() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.png");
        write_image(&path, &sample(DType::U8, 4, 4, 3)).unwrap();
        let before = std::fs::read(&path).unwrap();
        assert!(write_image(&path, &sample(DType::I32, 4, 4, 1)).is_err());
        let shape_lie = Image {
            width: 100,
            ..sample(DType::U8, 4, 4, 3)
        };
        let e = write_image(&path, &shape_lie).unwrap_err().to_string();
        assert!(
            e.contains("holds 48 elements but 100x4x3 needs 1200"),
            "{e}"
        );
        assert_eq!(std::fs::read(&path).unwrap(), before);
        assert_eq!(names_in(dir.path()), ["out.png"]);
    }

    #[test]
    fn writing_into_a_missing_directory_names_it() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("no/such");
        let path = missing.join("out.npy");
        let e = write_image(&path, &sample(DType::U8, 2, 2, 1)).unwrap_err();
        assert_eq!(
            e.to_string(),
            format!(
                "{}: the output directory {} does not exist",
                path.display(),
                missing.display()
            )
        );
        let e = write_json_atomic(&path.with_extension("json"), &serde_json::json!({}));
        assert!(matches!(e, Err(ImageIoError::MissingDir { .. })));
    }

    #[cfg(unix)]
    #[test]
    fn written_files_get_the_usual_mode() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.tif");
        write_image(&path, &sample(DType::U16, 2, 2, 1)).unwrap();
        // Same mode as a plain `File::create` (0666 less the umask), not tempfile's 0600.
        let plain = dir.path().join("plain");
        File::create(&plain).unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&path), mode(&plain));
    }

    #[test]
    fn json_reports_are_pretty_with_a_trailing_newline() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("report.json");
        let value = serde_json::json!({"stages": [1, 2], "ok": true});
        write_json_atomic(&path, &value).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text, serde_json::to_string_pretty(&value).unwrap() + "\n");
        assert!(text.contains("\n  \"ok\": true"));
        assert_eq!(names_in(dir.path()), ["report.json"]);
    }

    #[test]
    fn format_from_extension_ignores_case() {
        let f = |p: &str| ImageFormat::from_path(Path::new(p));
        assert_eq!(f("a/b.PNG"), Some(ImageFormat::Png));
        assert_eq!(f("x.Tif"), Some(ImageFormat::Tiff));
        assert_eq!(f("x.TIFF"), Some(ImageFormat::Tiff));
        assert_eq!(f("x.jpg"), Some(ImageFormat::Jpeg));
        assert_eq!(f("x.JPEG"), Some(ImageFormat::Jpeg));
        assert_eq!(f("x.npy"), Some(ImageFormat::Npy));
        assert_eq!(f("x.bmp"), None);
        assert_eq!(f("png"), None);
        assert_eq!(f(".png"), None);
    }

    #[test]
    fn content_wins_over_a_wrong_extension() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("really_a_png.jpg");
        std::fs::copy(fixture("rgb8.png"), &path).unwrap();
        let img = read_image(&path, &DecodeLimits::default()).unwrap();
        assert_eq!((img.width, img.height, img.channels), (2, 2, 3));
        // And a .npy written as such reads back whatever its name.
        let npy = dir.path().join("a.npy");
        write_image(&npy, &sample(DType::I16, 3, 2, 1)).unwrap();
        let renamed = dir.path().join("a.tif");
        std::fs::rename(&npy, &renamed).unwrap();
        assert_same(
            &read_image(&renamed, &DecodeLimits::default()).unwrap(),
            &sample(DType::I16, 3, 2, 1),
        );
    }

    #[test]
    fn unrecognised_or_missing_files_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let limits = DecodeLimits::default();
        let noise = dir.path().join("noise.png");
        std::fs::write(
            &noise,
            [0x3a, 0x9f, 0x00, 0x17, 0xee, 0x42, 0x42, 0x42, 0x01],
        )
        .unwrap();
        assert_eq!(
            read_image(&noise, &limits).unwrap_err().to_string(),
            format!(
                "{}: not a PNG, TIFF, JPEG or NPY file: the extension says PNG but the content \
                 starts with bytes 3a 9f 00 17 ee 42 42 42 and matches no PNG, TIFF, JPEG or NPY \
                 signature",
                noise.display()
            )
        );
        let empty = dir.path().join("empty.tif");
        std::fs::write(&empty, []).unwrap();
        let e = read_image(&empty, &limits).unwrap_err().to_string();
        assert!(e.ends_with("the file is empty (0 bytes)"), "{e}");
        let missing = dir.path().join("missing.png");
        let e = read_image(&missing, &limits).unwrap_err();
        assert!(matches!(e, ImageIoError::Io { .. }));
        assert!(e
            .to_string()
            .starts_with(&format!("{}: cannot open: ", missing.display())));
    }

    #[test]
    fn images_over_the_pixel_limit_are_refused_in_every_format() {
        let dir = tempfile::tempdir().unwrap();
        let limits = DecodeLimits {
            max_pixels: 99,
            ..DecodeLimits::default()
        };
        for (ext, channels) in [("png", 3), ("tif", 4), ("npy", 1), ("npy", 3)] {
            let path = dir.path().join(format!("big{channels}.{ext}"));
            write_image(&path, &sample(DType::U8, 10, 10, channels)).unwrap();
            assert_eq!(
                read_image(&path, &limits).unwrap_err().to_string(),
                format!(
                    "{}: 10x10 = 1.0e2 pixels exceeds the limit of 99 pixels (--max-pixels)",
                    path.display()
                )
            );
            let fits = DecodeLimits {
                max_pixels: 100,
                ..limits
            };
            assert!(read_image(&path, &fits).is_ok());
        }
    }

    #[test]
    fn files_over_the_byte_limit_are_not_read() {
        let limits = DecodeLimits {
            max_file_bytes: 10,
            ..DecodeLimits::default()
        };
        let path = fixture("gray8.png");
        let e = read_image(&path, &limits).unwrap_err().to_string();
        assert!(e.starts_with(&path.display().to_string()), "{e}");
        assert!(
            e.ends_with("bytes, over the limit of 10 bytes (--max-file-bytes)"),
            "{e}"
        );
    }

    /// Every truncation and every single-byte corruption of every fixture reads as an image or
    /// as an error naming the file; no decoder panics.
    #[test]
    fn damaged_fixtures_give_errors_not_panics() {
        // Small limits: a corrupted size field must not make the test allocate gigabytes.
        let limits = DecodeLimits {
            max_pixels: 1 << 16,
            ..DecodeLimits::default()
        };
        let mut fixtures = names_in(&fixture(""));
        fixtures.retain(|n| [".png", ".tif", ".jpg"].iter().any(|e| n.ends_with(e)));
        assert!(fixtures.len() >= 20, "{fixtures:?}");
        for name in fixtures {
            let good = std::fs::read(fixture(&name)).unwrap();
            let path = Path::new("damaged").join(&name);
            // Straight from memory: writing ~12000 files would dominate the test's time.
            let check = |bytes: &[u8]| {
                if let Err(e) = decode_file(&path, bytes, &limits) {
                    let e = e.to_string();
                    assert!(e.starts_with(&path.display().to_string()), "{e}");
                    assert!(!e.contains("panicked"), "{name}: {e}");
                }
            };
            for len in 0..good.len() {
                check(&good[..len]);
            }
            for i in 0..good.len() {
                let mut bad = good.clone();
                bad[i] ^= 0xa5;
                check(&bad);
            }
        }
    }
}

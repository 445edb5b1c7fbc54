//! Size limits checked before any pixel buffer is allocated.

use std::path::Path;

use super::ImageIoError;

/// Upper bounds on what [`read_image`](super::read_image) accepts. Both are checked before the
/// pixel buffer is allocated, so a hostile header cannot make the host allocate gigabytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DecodeLimits {
    /// Most pixels (`width * height`, channels not counted) an image may have.
    pub max_pixels: u64,
    /// Largest file, in bytes, that will be read.
    pub max_file_bytes: u64,
}

impl DecodeLimits {
    /// 2^28 pixels (16384 x 16384).
    pub const DEFAULT_MAX_PIXELS: u64 = 1 << 28;
    /// 4 GiB.
    pub const DEFAULT_MAX_FILE_BYTES: u64 = 4 << 30;

    /// Checks a `width x height` header against [`max_pixels`](Self::max_pixels) and rejects
    /// zero-sized images.
    pub(crate) fn check_dimensions(
        &self,
        path: &Path,
        width: u64,
        height: u64,
    ) -> Result<(), ImageIoError> {
        if width == 0 || height == 0 {
            return Err(ImageIoError::Empty {
                path: path.to_path_buf(),
                width,
                height,
            });
        }
        let pixels = width.saturating_mul(height);
        if pixels > self.max_pixels {
            return Err(ImageIoError::TooManyPixels {
                path: path.to_path_buf(),
                width,
                height,
                limit: self.max_pixels,
            });
        }
        Ok(())
    }

    /// The largest decoded buffer, in bytes, an image within the limits can need
    /// (4 channels of 8-byte samples), for the decoders' own allocation limits.
    pub(crate) fn max_buffer_bytes(&self) -> usize {
        usize::try_from(self.max_pixels.saturating_mul(32)).unwrap_or(usize::MAX)
    }
}

impl Default for DecodeLimits {
    fn default() -> Self {
        DecodeLimits {
            max_pixels: Self::DEFAULT_MAX_PIXELS,
            max_file_bytes: Self::DEFAULT_MAX_FILE_BYTES,
        }
    }
}

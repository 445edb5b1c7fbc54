//! A plain Rust image container used on the host side of the ABI and by CPU kernels.
//!
//! Nothing here crosses the ABI: buffers cross as bytes described by a
//! [`TensorDesc`](crate::TensorDesc). This type exists so that the host and reference backends
//! share one well-tested representation (row-major, channels interleaved, tightly packed).

use crate::DType;

/// Typed pixel storage. Keeping the element type in the variant keeps the data aligned for its
/// type, which a `Vec<u8>` would not guarantee.
#[derive(Debug, Clone, PartialEq)]
pub enum PixelData {
    /// u8 elements.
    U8(Vec<u8>),
    /// u16 elements.
    U16(Vec<u16>),
    /// i16 elements.
    I16(Vec<i16>),
    /// i32 elements.
    I32(Vec<i32>),
    /// f32 elements.
    F32(Vec<f32>),
}

impl PixelData {
    /// The element type.
    pub fn dtype(&self) -> DType {
        match self {
            PixelData::U8(_) => DType::U8,
            PixelData::U16(_) => DType::U16,
            PixelData::I16(_) => DType::I16,
            PixelData::I32(_) => DType::I32,
            PixelData::F32(_) => DType::F32,
        }
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        match self {
            PixelData::U8(v) => v.len(),
            PixelData::U16(v) => v.len(),
            PixelData::I16(v) => v.len(),
            PixelData::I32(v) => v.len(),
            PixelData::F32(v) => v.len(),
        }
    }

    /// True when there are no elements.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// A zero-filled buffer of `len` elements of `dtype`.
    pub fn zeros(dtype: DType, len: usize) -> PixelData {
        match dtype {
            DType::U8 => PixelData::U8(vec![0; len]),
            DType::U16 => PixelData::U16(vec![0; len]),
            DType::I16 => PixelData::I16(vec![0; len]),
            DType::I32 => PixelData::I32(vec![0; len]),
            DType::F32 => PixelData::F32(vec![0.0; len]),
        }
    }

    /// The elements as native-endian bytes (a copy).
    pub fn to_ne_bytes(&self) -> Vec<u8> {
        match self {
            PixelData::U8(v) => v.clone(),
            PixelData::U16(v) => v.iter().flat_map(|x| x.to_ne_bytes()).collect(),
            PixelData::I16(v) => v.iter().flat_map(|x| x.to_ne_bytes()).collect(),
            PixelData::I32(v) => v.iter().flat_map(|x| x.to_ne_bytes()).collect(),
            PixelData::F32(v) => v.iter().flat_map(|x| x.to_ne_bytes()).collect(),
        }
    }

    /// Rebuilds typed storage from native-endian bytes. `None` when the byte count is not a
    /// multiple of the element size.
    pub fn from_ne_bytes(dtype: DType, bytes: &[u8]) -> Option<PixelData> {
        let size = dtype.size_bytes();
        if bytes.len() % size != 0 {
            return None;
        }
        let chunks = bytes.chunks_exact(size);
        Some(match dtype {
            DType::U8 => PixelData::U8(bytes.to_vec()),
            DType::U16 => {
                PixelData::U16(chunks.map(|c| u16::from_ne_bytes([c[0], c[1]])).collect())
            }
            DType::I16 => {
                PixelData::I16(chunks.map(|c| i16::from_ne_bytes([c[0], c[1]])).collect())
            }
            DType::I32 => PixelData::I32(
                chunks
                    .map(|c| i32::from_ne_bytes([c[0], c[1], c[2], c[3]]))
                    .collect(),
            ),
            DType::F32 => PixelData::F32(
                chunks
                    .map(|c| f32::from_ne_bytes([c[0], c[1], c[2], c[3]]))
                    .collect(),
            ),
        })
    }
}

/// An image: `height` rows of `width` pixels of `channels` interleaved elements, tightly packed.
#[derive(Debug, Clone, PartialEq)]
pub struct Image {
    /// Pixels per row.
    pub width: usize,
    /// Rows.
    pub height: usize,
    /// Elements per pixel (1, 3 or 4).
    pub channels: usize,
    /// `width * height * channels` elements.
    pub data: PixelData,
}

/// Why an [`Image`] could not be built.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShapeMismatch {
    /// Elements the shape needs.
    pub expected: usize,
    /// Elements supplied.
    pub actual: usize,
}

impl std::fmt::Display for ShapeMismatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "shape needs {} elements, buffer has {}",
            self.expected, self.actual
        )
    }
}

impl std::error::Error for ShapeMismatch {}

impl Image {
    /// Builds an image, checking that `data` holds exactly `width * height * channels` elements.
    pub fn new(
        width: usize,
        height: usize,
        channels: usize,
        data: PixelData,
    ) -> Result<Image, ShapeMismatch> {
        let expected = width * height * channels;
        if data.len() != expected {
            return Err(ShapeMismatch {
                expected,
                actual: data.len(),
            });
        }
        Ok(Image {
            width,
            height,
            channels,
            data,
        })
    }

    /// A zero-filled image.
    pub fn zeros(width: usize, height: usize, channels: usize, dtype: DType) -> Image {
        Image {
            width,
            height,
            channels,
            data: PixelData::zeros(dtype, width * height * channels),
        }
    }

    /// The element type.
    pub fn dtype(&self) -> DType {
        self.data.dtype()
    }

    /// Elements per row (`width * channels`).
    pub fn row_len(&self) -> usize {
        self.width * self.channels
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        self.data.len()
    }

    /// True for a zero-sized image.
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    /// The descriptor of this image as a tightly packed host tensor.
    pub fn desc(&self) -> crate::TensorDesc {
        crate::TensorDesc::packed(self.dtype(), self.height, self.width, self.channels)
    }
}

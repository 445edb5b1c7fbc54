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
        self.as_ne_bytes().to_vec()
    }

    /// The elements as native-endian bytes, without copying.
    pub fn as_ne_bytes(&self) -> &[u8] {
        match self {
            PixelData::U8(v) => v,
            PixelData::U16(v) => bytes_of(v),
            PixelData::I16(v) => bytes_of(v),
            PixelData::I32(v) => bytes_of(v),
            PixelData::F32(v) => bytes_of(v),
        }
    }

    /// The elements as mutable native-endian bytes: writing bytes writes the elements (every
    /// bit pattern is a valid u8, u16, i16, i32 or f32).
    pub fn as_ne_bytes_mut(&mut self) -> &mut [u8] {
        match self {
            PixelData::U8(v) => v,
            PixelData::U16(v) => bytes_of_mut(v),
            PixelData::I16(v) => bytes_of_mut(v),
            PixelData::I32(v) => bytes_of_mut(v),
            PixelData::F32(v) => bytes_of_mut(v),
        }
    }

    /// Rebuilds typed storage from native-endian bytes. `None` when the byte count is not a
    /// multiple of the element size.
    pub fn from_ne_bytes(dtype: DType, bytes: &[u8]) -> Option<PixelData> {
        let size = dtype.size_bytes();
        if bytes.len() % size != 0 {
            return None;
        }
        if dtype == DType::U8 {
            return Some(PixelData::U8(bytes.to_vec()));
        }
        let mut out = PixelData::zeros(dtype, bytes.len() / size);
        out.as_ne_bytes_mut().copy_from_slice(bytes);
        Some(out)
    }
}

/// Element types with no padding whose every bit pattern is a valid value.
trait PlainElement: Copy {}
impl PlainElement for u16 {}
impl PlainElement for i16 {}
impl PlainElement for i32 {}
impl PlainElement for f32 {}

fn bytes_of<T: PlainElement>(v: &[T]) -> &[u8] {
    // SAFETY: `T` has no padding, so all `size_of_val(v)` bytes are initialised; u8 has
    // alignment 1; the borrow keeps `v` alive and unaliased for writes.
    unsafe { std::slice::from_raw_parts(v.as_ptr().cast::<u8>(), std::mem::size_of_val(v)) }
}

fn bytes_of_mut<T: PlainElement>(v: &mut [T]) -> &mut [u8] {
    // SAFETY: as in `bytes_of`, and every bit pattern is a valid `T`, so any bytes written
    // leave valid elements.
    unsafe { std::slice::from_raw_parts_mut(v.as_mut_ptr().cast::<u8>(), std::mem::size_of_val(v)) }
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The byte views against element-by-element `to_ne_bytes`, for every dtype.
    #[test]
    fn byte_views_match_per_element_bytes_and_round_trip() {
        let cases = [
            PixelData::U8(vec![0, 1, 255]),
            PixelData::U16(vec![0, 1, 0x1234, u16::MAX]),
            PixelData::I16(vec![i16::MIN, -1, 0, 0x1234]),
            PixelData::I32(vec![i32::MIN, -2, 7, 0x0102_0304]),
            PixelData::F32(vec![-0.0, 1.5, f32::INFINITY, f32::MIN_POSITIVE]),
        ];
        for data in cases {
            let want: Vec<u8> = match &data {
                PixelData::U8(v) => v.clone(),
                PixelData::U16(v) => v.iter().flat_map(|x| x.to_ne_bytes()).collect(),
                PixelData::I16(v) => v.iter().flat_map(|x| x.to_ne_bytes()).collect(),
                PixelData::I32(v) => v.iter().flat_map(|x| x.to_ne_bytes()).collect(),
                PixelData::F32(v) => v.iter().flat_map(|x| x.to_ne_bytes()).collect(),
            };
            assert_eq!(data.as_ne_bytes(), &want[..], "{:?}", data.dtype());
            assert_eq!(data.to_ne_bytes(), want);
            let back = PixelData::from_ne_bytes(data.dtype(), &want).unwrap();
            assert_eq!(back.as_ne_bytes(), data.as_ne_bytes());
            let mut copy = PixelData::zeros(data.dtype(), data.len());
            copy.as_ne_bytes_mut().copy_from_slice(&want);
            assert_eq!(copy.as_ne_bytes(), data.as_ne_bytes());
        }
        assert_eq!(PixelData::from_ne_bytes(DType::I32, &[0; 6]), None);
    }
}

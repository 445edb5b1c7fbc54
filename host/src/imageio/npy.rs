//! NumPy `.npy` files (format versions 1.0, 2.0 and 3.0).
//!
//! The format is a magic string, a version, a little-endian header length and a header that is
//! a Python dict literal such as `{'descr': '<u2', 'fortran_order': False, 'shape': (45, 67), }`,
//! followed by the raw elements in C order. See
//! <https://numpy.org/doc/stable/reference/generated/numpy.lib.format.html>.
//!
//! Images map to arrays of shape `(height, width)` (one channel) or
//! `(height, width, channels)` with channels 1, 3 or 4. Supported element types are
//! `|u1` (u8), `<u2` (u16), `<i2` (i16), `<i4` (i32) and `<f4` (f32); big-endian files (`>u2`,
//! ...) are byte-swapped on reading. [`encode`] writes version 1.0, little-endian, byte for
//! byte as `numpy.save` does.

use yam_plugin_api::{DType, Image, PixelData};

/// The 6 bytes every `.npy` file starts with.
const MAGIC: &[u8; 6] = b"\x93NUMPY";

/// The header (from the magic to the end of the dict) is padded to a multiple of this.
const ALIGN: usize = 64;

/// NumPy reserves room after the header for the first axis to grow to this many digits.
const GROWTH_AXIS_MAX_DIGITS: usize = 21;

const EXPECTED_DTYPES: &str = "|u1, <u2, <i2, <i4 or <f4";

/// Why a `.npy` file could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NpyError {
    /// The file does not start with `\x93NUMPY`.
    #[error("not a .npy file: expected the magic bytes \\x93NUMPY at the start")]
    BadMagic,
    /// A format version other than 1.0, 2.0 or 3.0.
    #[error("unsupported .npy format version {major}.{minor}: expected 1.0, 2.0 or 3.0")]
    UnsupportedVersion {
        /// Major version byte.
        major: u8,
        /// Minor version byte.
        minor: u8,
    },
    /// The file ends before the part named by `what` is complete.
    #[error("truncated .npy file: the {what} needs {needed} bytes but only {available} are left")]
    Truncated {
        /// The part that is cut short (`"preamble"`, `"header"`, `"data"`).
        what: &'static str,
        /// Bytes the part needs.
        needed: u64,
        /// Bytes present.
        available: u64,
    },
    /// More bytes follow the data than the header describes.
    #[error(".npy file has {extra} bytes after the data: expected exactly {expected} data bytes")]
    TrailingBytes {
        /// Data bytes the header describes.
        expected: u64,
        /// Bytes beyond them.
        extra: u64,
    },
    /// The header is not the dict literal NumPy writes.
    #[error("malformed .npy header: {0}")]
    BadHeader(String),
    /// An element type yam has no image type for.
    #[error("unsupported dtype '{0}': expected {EXPECTED_DTYPES} (or big-endian '>')")]
    UnsupportedDtype(String),
    /// Column-major data.
    #[error(
        "fortran_order arrays are not supported: expected C order ('fortran_order': False); \
         save a C-contiguous array (numpy.ascontiguousarray)"
    )]
    FortranOrder,
    /// A shape that is not an image.
    #[error(
        "unsupported shape {0:?}: expected (height, width) or (height, width, channels) \
         with channels 1, 3 or 4"
    )]
    UnsupportedShape(Vec<u64>),
    /// More elements than the caller allows.
    #[error("array of shape {shape:?} has {elements} elements: expected at most {max}")]
    TooLarge {
        /// The shape in the header.
        shape: Vec<u64>,
        /// Its element count (saturated at `u64::MAX`).
        elements: u64,
        /// The limit passed to [`decode`].
        max: u64,
    },
}

/// Byte order of the stored elements.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Endian {
    Little,
    Big,
}

/// Parses a `descr` string into a dtype and a byte order.
fn parse_descr(descr: &str) -> Result<(DType, Endian), NpyError> {
    let unsupported = || NpyError::UnsupportedDtype(descr.to_string());
    let (order, code) = match descr.as_bytes().first() {
        Some(b'<') => (Some(Endian::Little), &descr[1..]),
        Some(b'>') => (Some(Endian::Big), &descr[1..]),
        Some(b'|') => (None, &descr[1..]),
        _ => return Err(unsupported()),
    };
    let dtype = match code {
        "u1" => DType::U8,
        "u2" => DType::U16,
        "i2" => DType::I16,
        "i4" => DType::I32,
        "f4" => DType::F32,
        _ => return Err(unsupported()),
    };
    // '|' means "byte order not applicable", which is only right for one-byte types.
    let endian = match (order, dtype.size_bytes()) {
        (Some(e), _) => e,
        (None, 1) => Endian::Little,
        (None, _) => return Err(unsupported()),
    };
    Ok((dtype, endian))
}

/// The `descr` NumPy writes for a dtype stored little-endian.
fn descr_of(dtype: DType) -> &'static str {
    match dtype {
        DType::U8 => "|u1",
        DType::U16 => "<u2",
        DType::I16 => "<i2",
        DType::I32 => "<i4",
        DType::F32 => "<f4",
    }
}

/// A value of the header dict. Only what NumPy writes for plain arrays is understood.
#[derive(Debug, Clone, PartialEq)]
enum Literal {
    Str(String),
    Bool(bool),
    Tuple(Vec<u64>),
    /// Anything else we can skip over but not use (e.g. a structured `descr` list).
    Other(String),
}

/// A tiny parser for the Python dict literal of a `.npy` header. No recursion: lists and
/// tuples may only hold integers, strings or further flat items, so hostile input cannot
/// exhaust the stack.
struct HeaderParser<'a> {
    s: &'a [u8],
    pos: usize,
}

impl<'a> HeaderParser<'a> {
    fn new(text: &'a str) -> Self {
        HeaderParser {
            s: text.as_bytes(),
            pos: 0,
        }
    }

    fn err<T>(&self, what: &str) -> Result<T, NpyError> {
        Err(NpyError::BadHeader(format!("{what} at byte {}", self.pos)))
    }

    fn skip_ws(&mut self) {
        while self
            .s
            .get(self.pos)
            .is_some_and(|c| c.is_ascii_whitespace())
        {
            self.pos += 1;
        }
    }

    fn peek(&mut self) -> Option<u8> {
        self.skip_ws();
        self.s.get(self.pos).copied()
    }

    fn eat(&mut self, c: u8) -> bool {
        if self.peek() == Some(c) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn string(&mut self) -> Result<String, NpyError> {
        let quote = match self.peek() {
            Some(q @ (b'\'' | b'"')) => q,
            _ => return self.err("expected a quoted string"),
        };
        self.pos += 1;
        let start = self.pos;
        while let Some(&c) = self.s.get(self.pos) {
            if c == b'\\' {
                return self.err("escape sequences in strings are not supported");
            }
            if c == quote {
                let text = String::from_utf8_lossy(&self.s[start..self.pos]).into_owned();
                self.pos += 1;
                return Ok(text);
            }
            self.pos += 1;
        }
        self.err("unterminated string")
    }

    fn integer(&mut self) -> Result<u64, NpyError> {
        self.skip_ws();
        let start = self.pos;
        while self.s.get(self.pos).is_some_and(u8::is_ascii_digit) {
            self.pos += 1;
        }
        // Python 2 era writers append `L` to longs.
        let digits = std::str::from_utf8(&self.s[start..self.pos]).unwrap_or("");
        if self.s.get(self.pos) == Some(&b'L') {
            self.pos += 1;
        }
        match digits.parse::<u64>() {
            Ok(v) => Ok(v),
            Err(_) if digits.is_empty() => self.err("expected a non-negative integer"),
            Err(_) => self.err("integer too large"),
        }
    }

    fn word(&mut self) -> Result<String, NpyError> {
        self.skip_ws();
        let start = self.pos;
        while self
            .s
            .get(self.pos)
            .is_some_and(|c| c.is_ascii_alphanumeric() || *c == b'_')
        {
            self.pos += 1;
        }
        if start == self.pos {
            return self.err("expected a value");
        }
        Ok(String::from_utf8_lossy(&self.s[start..self.pos]).into_owned())
    }

    /// A tuple of integers `(a, b, c)`, `(a,)` or `()`.
    fn int_tuple(&mut self) -> Result<Vec<u64>, NpyError> {
        let mut items = Vec::new();
        self.pos += 1; // '('
        loop {
            if self.eat(b')') {
                return Ok(items);
            }
            items.push(self.integer()?);
            if items.len() > 32 {
                return self.err("too many dimensions");
            }
            if !self.eat(b',') {
                if self.eat(b')') {
                    return Ok(items);
                }
                return self.err("expected ',' or ')' in shape");
            }
        }
    }

    /// A flat list (only used to skip structured dtypes, which are then rejected).
    fn skip_list(&mut self) -> Result<String, NpyError> {
        let start = self.pos;
        let mut depth = 0usize;
        while let Some(&c) = self.s.get(self.pos) {
            self.pos += 1;
            match c {
                b'[' | b'(' => depth += 1,
                b']' | b')' => {
                    depth = depth.saturating_sub(1);
                    if depth == 0 {
                        return Ok(String::from_utf8_lossy(&self.s[start..self.pos]).into_owned());
                    }
                }
                _ => {}
            }
        }
        self.err("unterminated list")
    }

    fn value(&mut self) -> Result<Literal, NpyError> {
        match self.peek() {
            Some(b'\'' | b'"') => Ok(Literal::Str(self.string()?)),
            Some(b'(') => Ok(Literal::Tuple(self.int_tuple()?)),
            Some(b'[') => Ok(Literal::Other(self.skip_list()?)),
            Some(_) => {
                let w = self.word()?;
                Ok(match w.as_str() {
                    "True" => Literal::Bool(true),
                    "False" => Literal::Bool(false),
                    _ => Literal::Other(w),
                })
            }
            None => self.err("unexpected end of header"),
        }
    }

    /// The whole dict as `(key, value)` pairs.
    fn dict(&mut self) -> Result<Vec<(String, Literal)>, NpyError> {
        if !self.eat(b'{') {
            return self.err("expected '{'");
        }
        let mut entries = Vec::new();
        loop {
            if self.eat(b'}') {
                break;
            }
            let key = self.string()?;
            if !self.eat(b':') {
                return self.err("expected ':'");
            }
            let value = self.value()?;
            entries.push((key, value));
            if !self.eat(b',') {
                if self.eat(b'}') {
                    break;
                }
                return self.err("expected ',' or '}'");
            }
        }
        if self.peek().is_some() {
            return self.err("unexpected text after the header dict");
        }
        Ok(entries)
    }
}

/// The parsed header.
#[derive(Debug)]
struct Header {
    dtype: DType,
    endian: Endian,
    shape: Vec<u64>,
}

fn parse_header(text: &str) -> Result<Header, NpyError> {
    let entries = HeaderParser::new(text).dict()?;
    let find = |key: &str| entries.iter().find(|(k, _)| k == key).map(|(_, v)| v);
    let missing = |key: &str| NpyError::BadHeader(format!("missing key '{key}'"));
    if entries.len() != 3 {
        let keys: Vec<&str> = entries.iter().map(|(k, _)| k.as_str()).collect();
        return Err(NpyError::BadHeader(format!(
            "expected exactly the keys 'descr', 'fortran_order' and 'shape', found {keys:?}"
        )));
    }
    let (dtype, endian) = match find("descr").ok_or_else(|| missing("descr"))? {
        Literal::Str(s) => parse_descr(s)?,
        Literal::Other(s) => return Err(NpyError::UnsupportedDtype(s.clone())),
        other => return Err(NpyError::UnsupportedDtype(format!("{other:?}"))),
    };
    match find("fortran_order").ok_or_else(|| missing("fortran_order"))? {
        Literal::Bool(false) => {}
        Literal::Bool(true) => return Err(NpyError::FortranOrder),
        other => {
            return Err(NpyError::BadHeader(format!(
                "'fortran_order' must be True or False, found {other:?}"
            )))
        }
    }
    let shape = match find("shape").ok_or_else(|| missing("shape"))? {
        Literal::Tuple(t) => t.clone(),
        other => {
            return Err(NpyError::BadHeader(format!(
                "'shape' must be a tuple of integers, found {other:?}"
            )))
        }
    };
    Ok(Header {
        dtype,
        endian,
        shape,
    })
}

fn take<'a>(bytes: &'a [u8], n: usize, what: &'static str) -> Result<&'a [u8], NpyError> {
    bytes.get(..n).ok_or(NpyError::Truncated {
        what,
        needed: n as u64,
        available: bytes.len() as u64,
    })
}

/// Reads a `.npy` file into an [`Image`].
///
/// Accepts format versions 1.0, 2.0 and 3.0, the dtypes `|u1`, `<u2`, `<i2`, `<i4`, `<f4`
/// (and their big-endian forms, which are byte-swapped) and C-ordered shapes `(h, w)` or
/// `(h, w, c)` with `c` in 1, 3, 4. The element count is checked against `max_elements` before
/// anything is allocated; truncated or trailing data, malformed headers and other shapes or
/// dtypes are errors. Never panics.
pub fn decode(bytes: &[u8], max_elements: u64) -> Result<Image, NpyError> {
    let preamble = take(bytes, 8, "preamble")?;
    if &preamble[..6] != MAGIC {
        return Err(NpyError::BadMagic);
    }
    let (major, minor) = (preamble[6], preamble[7]);
    let (len_bytes, utf8) = match (major, minor) {
        (1, 0) => (2, false),
        (2, 0) => (4, false),
        (3, 0) => (4, true),
        _ => return Err(NpyError::UnsupportedVersion { major, minor }),
    };
    let rest = &bytes[8..];
    let len_field = take(rest, len_bytes, "header length")?;
    let header_len = len_field
        .iter()
        .rev()
        .fold(0usize, |acc, &b| (acc << 8) | usize::from(b));
    let rest = &rest[len_bytes..];
    let header_bytes = take(rest, header_len, "header")?;
    let header_text: String = if utf8 {
        std::str::from_utf8(header_bytes)
            .map_err(|e| NpyError::BadHeader(format!("header is not UTF-8: {e}")))?
            .to_owned()
    } else {
        // Versions 1 and 2 are latin-1; every byte maps to the code point of the same value.
        header_bytes.iter().map(|&b| char::from(b)).collect()
    };
    let header = parse_header(&header_text)?;
    let data = &rest[header_len..];

    let (h, w, c) = match header.shape[..] {
        [h, w] => (h, w, 1),
        [h, w, c] if matches!(c, 1 | 3 | 4) => (h, w, c),
        _ => return Err(NpyError::UnsupportedShape(header.shape)),
    };
    let elements = h.checked_mul(w).and_then(|n| n.checked_mul(c));
    // A zero-width image of 2^60 rows holds no elements but would still make row loops run
    // forever: each side must be within the limit too.
    if h.max(w) > max_elements {
        return Err(NpyError::TooLarge {
            shape: header.shape.clone(),
            elements: elements.unwrap_or(u64::MAX),
            max: max_elements,
        });
    }
    let too_large = |elements| NpyError::TooLarge {
        shape: header.shape.clone(),
        elements,
        max: max_elements,
    };
    let elements = match elements {
        Some(n) if n <= max_elements => n,
        Some(n) => return Err(too_large(n)),
        None => return Err(too_large(u64::MAX)),
    };
    let size = header.dtype.size_bytes() as u64;
    let needed = elements
        .checked_mul(size)
        .ok_or_else(|| too_large(elements))?;
    if (data.len() as u64) < needed {
        return Err(NpyError::Truncated {
            what: "data",
            needed,
            available: data.len() as u64,
        });
    }
    if (data.len() as u64) > needed {
        return Err(NpyError::TrailingBytes {
            expected: needed,
            extra: data.len() as u64 - needed,
        });
    }
    // `needed == data.len()` fits in usize from here on, and so do h, w and c.
    let pixels = read_elements(header.dtype, header.endian, data);
    Image::new(w as usize, h as usize, c as usize, pixels)
        .map_err(|e| NpyError::BadHeader(format!("internal shape mismatch: {e}")))
}

/// Converts stored elements to typed storage.
fn read_elements(dtype: DType, endian: Endian, data: &[u8]) -> PixelData {
    macro_rules! read {
        ($t:ty, $n:literal, $variant:ident) => {
            PixelData::$variant(
                data.chunks_exact($n)
                    .map(|c| {
                        let a: [u8; $n] = c.try_into().expect("chunk size");
                        match endian {
                            Endian::Little => <$t>::from_le_bytes(a),
                            Endian::Big => <$t>::from_be_bytes(a),
                        }
                    })
                    .collect(),
            )
        };
    }
    match dtype {
        DType::U8 => PixelData::U8(data.to_vec()),
        DType::U16 => read!(u16, 2, U16),
        DType::I16 => read!(i16, 2, I16),
        DType::I32 => read!(i32, 4, I32),
        DType::F32 => read!(f32, 4, F32),
    }
}

/// Writes an image as a version 1.0 `.npy` file, little-endian, with the exact dtype of the
/// image and shape `(h, w)` for one channel or `(h, w, c)` otherwise. The bytes equal what
/// `numpy.save` writes for the same array (header padded so the data starts at a multiple of
/// 64 bytes).
pub fn encode(img: &Image) -> Vec<u8> {
    let shape = if img.channels == 1 {
        format!("({}, {})", img.height, img.width)
    } else {
        format!("({}, {}, {})", img.height, img.width, img.channels)
    };
    let mut header = format!(
        "{{'descr': '{}', 'fortran_order': False, 'shape': {shape}, }}",
        descr_of(img.dtype())
    );
    // NumPy leaves room for the first axis to grow in place, then pads with spaces and ends
    // the header with a newline so that magic + version + length + header is 64-aligned.
    let first_axis_digits = img.height.to_string().len();
    header.push_str(&" ".repeat(GROWTH_AXIS_MAX_DIGITS.saturating_sub(first_axis_digits)));
    let unpadded = MAGIC.len() + 2 + 2 + header.len() + 1;
    // Like NumPy, a header that is already aligned still gets a full block of padding.
    header.push_str(&" ".repeat(ALIGN - unpadded % ALIGN));
    header.push('\n');
    let header_len = u16::try_from(header.len()).expect("an image header is far below 64 KiB");

    let elem = img.dtype().size_bytes();
    let mut out = Vec::with_capacity(10 + header.len() + img.len() * elem);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&[1, 0]);
    out.extend_from_slice(&header_len.to_le_bytes());
    out.extend_from_slice(header.as_bytes());
    match &img.data {
        PixelData::U8(v) => out.extend_from_slice(v),
        PixelData::U16(v) => v
            .iter()
            .for_each(|x| out.extend_from_slice(&x.to_le_bytes())),
        PixelData::I16(v) => v
            .iter()
            .for_each(|x| out.extend_from_slice(&x.to_le_bytes())),
        PixelData::I32(v) => v
            .iter()
            .for_each(|x| out.extend_from_slice(&x.to_le_bytes())),
        PixelData::F32(v) => v
            .iter()
            .for_each(|x| out.extend_from_slice(&x.to_le_bytes())),
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const NO_LIMIT: u64 = u64::MAX;

    /// A `.npy` file with the given version and raw header text (padding not required).
    fn file(major: u8, header: &str, data: &[u8]) -> Vec<u8> {
        let mut out = MAGIC.to_vec();
        out.extend_from_slice(&[major, 0]);
        if major == 1 {
            out.extend_from_slice(&(header.len() as u16).to_le_bytes());
        } else {
            out.extend_from_slice(&(header.len() as u32).to_le_bytes());
        }
        out.extend_from_slice(header.as_bytes());
        out.extend_from_slice(data);
        out
    }

    fn header(descr: &str, shape: &str) -> String {
        format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape}, }}\n")
    }

    fn sample(dtype: DType, w: usize, h: usize, c: usize) -> Image {
        let n = w * h * c;
        let data = match dtype {
            DType::U8 => PixelData::U8((0..n).map(|i| (i * 37 % 256) as u8).collect()),
            DType::U16 => PixelData::U16((0..n).map(|i| (i * 7919 % 65536) as u16).collect()),
            DType::I16 => PixelData::I16(
                (0..n)
                    .map(|i| (i as i64 * 7919 % 65536 - 32768) as i16)
                    .collect(),
            ),
            DType::I32 => PixelData::I32(
                (0..n)
                    .map(|i| (i as i64 * 2_654_435_761 % (1 << 32) - (1 << 31)) as i32)
                    .collect(),
            ),
            DType::F32 => PixelData::F32(
                (0..n)
                    .map(|i| match i % 5 {
                        0 => f32::MIN_POSITIVE,
                        1 => -0.0,
                        2 => f32::INFINITY,
                        _ => i as f32 * -1.25e-3,
                    })
                    .collect(),
            ),
        };
        Image::new(w, h, c, data).unwrap()
    }

    #[test]
    fn round_trips_every_dtype_and_channel_count() {
        for dtype in DType::ALL {
            for c in [1, 3, 4] {
                for (w, h) in [(67, 45), (1, 1), (3, 1), (1, 5), (0, 4)] {
                    let img = sample(dtype, w, h, c);
                    let bytes = encode(&img);
                    assert_eq!(
                        bytes.len() % ALIGN,
                        (img.len() * dtype.size_bytes()) % ALIGN
                    );
                    let back = decode(&bytes, NO_LIMIT).unwrap();
                    // Compare bit patterns so that -0.0 and NaN-free floats are exact.
                    assert_eq!(
                        back.data.to_ne_bytes(),
                        img.data.to_ne_bytes(),
                        "{dtype} c{c}"
                    );
                    assert_eq!((back.width, back.height, back.channels), (w, h, c));
                    assert_eq!(back.dtype(), dtype);
                }
            }
        }
    }

    #[test]
    fn encode_matches_numpy_save_byte_for_byte() {
        // Header dicts and padding as `np.save` (numpy 2.4) writes them for these arrays.
        let cases = [
            (
                Image::zeros(67, 45, 3, DType::U16),
                "<u2', 'fortran_order': False, 'shape': (45, 67, 3), }",
                53,
            ),
            (
                Image::zeros(67, 45, 1, DType::U8),
                "|u1', 'fortran_order': False, 'shape': (45, 67), }",
                56,
            ),
            (
                Image::zeros(1, 1, 1, DType::I32),
                "<i4', 'fortran_order': False, 'shape': (1, 1), }",
                58,
            ),
            (
                Image::zeros(0, 4, 3, DType::I16),
                "<i2', 'fortran_order': False, 'shape': (4, 0, 3), }",
                55,
            ),
            (
                Image::zeros(2, 3, 4, DType::F32),
                "<f4', 'fortran_order': False, 'shape': (3, 2, 4), }",
                55,
            ),
        ];
        for (img, dict_tail, spaces) in cases {
            let bytes = encode(&img);
            let mut expected = b"\x93NUMPY\x01\x00\x76\x00{'descr': '".to_vec();
            expected.extend_from_slice(dict_tail.as_bytes());
            expected.extend(std::iter::repeat_n(b' ', spaces));
            expected.push(b'\n');
            assert_eq!(expected.len(), 128, "{dict_tail}");
            assert_eq!(&bytes[..128], &expected[..], "{dict_tail}");
            assert_eq!(bytes.len(), 128 + img.len() * img.dtype().size_bytes());
        }
    }

    #[test]
    fn reads_hand_built_headers() {
        // Version 1.0, no padding, little-endian u16, 2x3.
        let data: Vec<u8> = (1u16..=6).flat_map(u16::to_le_bytes).collect();
        let img = decode(&file(1, &header("<u2", "(2, 3)"), &data), NO_LIMIT).unwrap();
        assert_eq!((img.width, img.height, img.channels), (3, 2, 1));
        assert_eq!(img.data, PixelData::U16(vec![1, 2, 3, 4, 5, 6]));

        // Version 2.0, big-endian f32, (1, 2, 1), keys in another order, double quotes,
        // no trailing comma.
        let data: Vec<u8> = [1.5f32, -2.0]
            .iter()
            .flat_map(|x| x.to_be_bytes())
            .collect();
        let h = "{\"shape\": (1,2,1), \"fortran_order\": False, \"descr\": \">f4\"}";
        let img = decode(&file(2, h, &data), NO_LIMIT).unwrap();
        assert_eq!((img.width, img.height, img.channels), (2, 1, 1));
        assert_eq!(img.data, PixelData::F32(vec![1.5, -2.0]));

        // Version 3.0 (UTF-8 header), big-endian i32 and i16, 4 channels.
        let data: Vec<u8> = [-7i32, 1 << 20, 3, 4]
            .iter()
            .flat_map(|x| x.to_be_bytes())
            .collect();
        let img = decode(&file(3, &header(">i4", "(1, 1, 4)"), &data), NO_LIMIT).unwrap();
        assert_eq!(img.data, PixelData::I32(vec![-7, 1 << 20, 3, 4]));
        let data: Vec<u8> = [-300i16, 2].iter().flat_map(|x| x.to_be_bytes()).collect();
        let img = decode(&file(1, &header(">i2", "(2, 1)"), &data), NO_LIMIT).unwrap();
        assert_eq!(img.data, PixelData::I16(vec![-300, 2]));

        // u8 under '<' and '>' too (byte order is irrelevant for one byte); 3 channels.
        for d in ["|u1", "<u1", ">u1"] {
            let img = decode(&file(1, &header(d, "(1, 1, 3)"), &[9, 8, 7]), NO_LIMIT).unwrap();
            assert_eq!(img.data, PixelData::U8(vec![9, 8, 7]), "{d}");
        }
        // Python 2 long suffix.
        let img = decode(&file(1, &header("|u1", "(1L, 2L)"), &[1, 2]), NO_LIMIT).unwrap();
        assert_eq!(img.width, 2);
    }

    fn err(bytes: &[u8]) -> NpyError {
        decode(bytes, NO_LIMIT).unwrap_err()
    }

    #[test]
    fn unsupported_dtypes_say_what_is_expected() {
        for d in [
            "<f8", "|i1", "|b1", "<u4", "<i8", "|u2", "<f2", "<c8", "|O", "u1", "",
        ] {
            let e = err(&file(1, &header(d, "(1, 1)"), &[0; 16]));
            assert_eq!(e, NpyError::UnsupportedDtype(d.to_string()));
        }
        let msg = err(&file(1, &header("<f8", "(1, 1)"), &[0; 8])).to_string();
        assert!(
            msg.starts_with("unsupported dtype '<f8': expected |u1, <u2, <i2, <i4 or <f4"),
            "{msg}"
        );
        let structured = "{'descr': [('a', '<u1')], 'fortran_order': False, 'shape': (1, 1), }";
        assert!(matches!(
            err(&file(1, structured, &[0])),
            NpyError::UnsupportedDtype(_)
        ));
    }

    #[test]
    fn rejects_fortran_order_and_non_image_shapes() {
        let h = "{'descr': '|u1', 'fortran_order': True, 'shape': (2, 2), }";
        let e = err(&file(1, h, &[0; 4]));
        assert_eq!(e, NpyError::FortranOrder);
        assert!(e.to_string().contains("C order"));
        for shape in ["()", "(4,)", "(2, 2, 2)", "(1, 1, 5)", "(1, 1, 1, 1)"] {
            let e = err(&file(1, &header("|u1", shape), &[0; 8]));
            assert!(matches!(e, NpyError::UnsupportedShape(_)), "{shape}: {e}");
        }
        let msg = err(&file(1, &header("|u1", "(1, 1, 2)"), &[0; 2])).to_string();
        assert!(msg.contains("channels 1, 3 or 4"), "{msg}");
    }

    #[test]
    fn rejects_malformed_headers() {
        let cases = [
            "",
            "{",
            "{}",
            "[1, 2]",
            "{'descr': '|u1', 'fortran_order': False}",
            "{'descr': '|u1', 'fortran_order': False, 'shape': (1, 1), 'extra': 1}",
            "{'descr': '|u1', 'fortran_order': 0, 'shape': (1, 1), }",
            "{'descr': '|u1', 'fortran_order': False, 'shape': [1, 1], }",
            "{'descr': '|u1', 'fortran_order': False, 'shape': (1, -1), }",
            "{'descr': '|u1', 'fortran_order': False, 'shape': (1, 1), } x",
            "{'descr': '|u1 'fortran_order': False, 'shape': (1, 1), }",
            "{'descr': '|u1', 'fortran_order': False, 'shape': (1 1), }",
            "{'descr': '|u1', 'fortran_order': False, 'shape': (99999999999999999999999, 1)}",
            "{'descr': '\\x75', 'fortran_order': False, 'shape': (1, 1), }",
        ];
        for h in cases {
            let e = err(&file(1, h, &[0]));
            assert!(matches!(e, NpyError::BadHeader(_)), "{h:?}: {e:?}");
        }
        // Not UTF-8 in a version 3 header.
        let e = err(&file(3, "{'descr': '\u{fffd}'", &[]));
        assert!(matches!(e, NpyError::BadHeader(_)), "{e:?}");
        let mut bad_utf8 = file(3, &header("|u1", "(1, 1)"), &[0]);
        bad_utf8[12] = 0xff;
        assert!(matches!(err(&bad_utf8), NpyError::BadHeader(_)));
    }

    #[test]
    fn rejects_bad_magic_versions_and_truncation() {
        let good = encode(&sample(DType::U16, 5, 3, 3));
        assert_eq!(err(b"PK\x03\x04 not npy"), NpyError::BadMagic);
        let mut v4 = good.clone();
        v4[6] = 4;
        assert_eq!(
            err(&v4),
            NpyError::UnsupportedVersion { major: 4, minor: 0 }
        );
        let mut v11 = good.clone();
        v11[7] = 1;
        assert!(err(&v11).to_string().contains("expected 1.0, 2.0 or 3.0"));
        // Every proper prefix is an error naming what is cut short.
        for n in 0..good.len() {
            match err(&good[..n]) {
                NpyError::Truncated {
                    needed, available, ..
                } => assert!(available < needed),
                NpyError::BadMagic if n < 6 => {}
                e => panic!("prefix of {n} bytes: {e:?}"),
            }
        }
        let msg = err(&good[..good.len() - 1]).to_string();
        assert!(msg.contains("data needs 90 bytes but only 89"), "{msg}");
        // Header length pointing past the end of the file.
        let mut long = good.clone();
        long[8] = 0xff;
        long[9] = 0xff;
        assert!(matches!(
            err(&long),
            NpyError::Truncated { what: "header", .. }
        ));
        let mut extra = good;
        extra.push(0);
        assert_eq!(
            err(&extra),
            NpyError::TrailingBytes {
                expected: 90,
                extra: 1
            }
        );
    }

    #[test]
    fn checks_the_element_limit_before_allocating() {
        // 2^40 x 2^40 pixels: would overflow or exhaust memory if allocated.
        let h = header("<f4", "(1099511627776, 1099511627776, 3)");
        let e = decode(&file(1, &h, &[]), NO_LIMIT).unwrap_err();
        assert!(matches!(e, NpyError::TooLarge { .. }), "{e:?}");
        let h = header("<f4", "(100000, 100000)");
        let e = decode(&file(1, &h, &[0; 16]), 1 << 24).unwrap_err();
        assert_eq!(
            e,
            NpyError::TooLarge {
                shape: vec![100000, 100000],
                elements: 10_000_000_000,
                max: 1 << 24
            }
        );
        assert!(e.to_string().contains("expected at most 16777216"), "{e}");
        // Within the limit but more than the file holds: truncated, still no allocation.
        let e = decode(&file(1, &h, &[0; 16]), NO_LIMIT).unwrap_err();
        assert!(matches!(e, NpyError::Truncated { what: "data", .. }));
        // An empty image with an absurd side is refused too.
        let h = header("|u1", "(1152921504606846976, 0)");
        let e = decode(&file(1, &h, &[]), 1 << 24).unwrap_err();
        assert!(matches!(e, NpyError::TooLarge { elements: 0, .. }), "{e:?}");
        let img = decode(&file(1, &header("|u1", "(0, 5, 3)"), &[]), 1 << 24).unwrap();
        assert_eq!((img.width, img.height, img.channels), (5, 0, 3));
        // Exactly at the limit is fine.
        let img = sample(DType::U8, 4, 2, 3);
        assert!(decode(&encode(&img), 24).is_ok());
        assert!(decode(&encode(&img), 23).is_err());
    }

    proptest! {
        #[test]
        fn decode_never_panics_on_random_bytes(
            bytes in proptest::collection::vec(any::<u8>(), 0..256),
        ) {
            let _ = decode(&bytes, 1 << 20);
        }

        #[test]
        fn decode_never_panics_on_random_headers(
            major in 1u8..=3,
            header in "[ -~]{0,120}",
            data in proptest::collection::vec(any::<u8>(), 0..64),
        ) {
            let _ = decode(&file(major, &header, &data), 1 << 20);
        }

        #[test]
        fn decode_never_panics_on_corrupted_files(
            flips in proptest::collection::vec((0usize..200, any::<u8>()), 1..6),
            cut in 0usize..400,
        ) {
            let mut bytes = encode(&sample(DType::F32, 7, 5, 3));
            for (i, b) in flips {
                let i = i % bytes.len();
                bytes[i] = b;
            }
            bytes.truncate(cut.max(10) * 2);
            let _ = decode(&bytes, 1 << 20);
        }
    }
}

//! Element types of image buffers, and their DLPack encoding.

use abi_stable::StableAbi;
use serde::{Deserialize, Serialize};

/// The element type of one channel of one pixel.
///
/// Inputs to pipelines are `U8`, `U16` or `F32`; `I16` and `I32` appear as kernel outputs
/// (`sobel` to i16, `connected_components` to i32 labels).
///
/// New types are appended with new discriminants; a host that meets a discriminant it does not
/// know (see [`DType::from_code`]) reports it instead of guessing.
#[repr(u8)]
#[derive(StableAbi, Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DType {
    /// Unsigned 8-bit integer.
    U8 = 1,
    /// Unsigned 16-bit integer.
    U16 = 2,
    /// Signed 16-bit integer (e.g. `sobel` with `out: i16`).
    I16 = 3,
    /// Signed 32-bit integer (e.g. `connected_components` labels).
    I32 = 4,
    /// IEEE-754 binary32.
    F32 = 5,
}

/// DLPack type codes (`DLDataTypeCode`).
pub mod dl_code {
    /// `kDLInt`: signed integer.
    pub const INT: u8 = 0;
    /// `kDLUInt`: unsigned integer.
    pub const UINT: u8 = 1;
    /// `kDLFloat`: IEEE float.
    pub const FLOAT: u8 = 2;
}

impl DType {
    /// Every dtype, in discriminant order.
    pub const ALL: [DType; 5] = [DType::U8, DType::U16, DType::I16, DType::I32, DType::F32];

    /// Size of one element in bytes.
    pub const fn size_bytes(self) -> usize {
        match self {
            DType::U8 => 1,
            DType::U16 | DType::I16 => 2,
            DType::I32 | DType::F32 => 4,
        }
    }

    /// The lowercase name used in pipeline files, manifests and reports (`"u8"`, `"f32"`, ...).
    pub const fn name(self) -> &'static str {
        match self {
            DType::U8 => "u8",
            DType::U16 => "u16",
            DType::I16 => "i16",
            DType::I32 => "i32",
            DType::F32 => "f32",
        }
    }

    /// Parses a name as produced by [`DType::name`].
    pub fn from_name(name: &str) -> Option<DType> {
        DType::ALL.into_iter().find(|d| d.name() == name)
    }

    /// Decodes a raw discriminant received across the ABI; `None` for an unknown one.
    pub fn from_code(code: u8) -> Option<DType> {
        DType::ALL.into_iter().find(|d| *d as u8 == code)
    }

    /// The DLPack `(code, bits, lanes)` triple of this dtype.
    pub const fn to_dlpack(self) -> DlDataType {
        let (code, bits) = match self {
            DType::U8 => (dl_code::UINT, 8),
            DType::U16 => (dl_code::UINT, 16),
            DType::I16 => (dl_code::INT, 16),
            DType::I32 => (dl_code::INT, 32),
            DType::F32 => (dl_code::FLOAT, 32),
        };
        DlDataType {
            code,
            bits,
            lanes: 1,
        }
    }

    /// The dtype of a DLPack `(code, bits, lanes)` triple; `None` when yam has no such type
    /// (e.g. `float16`, or `lanes != 1`).
    pub fn from_dlpack(t: DlDataType) -> Option<DType> {
        DType::ALL.into_iter().find(|d| d.to_dlpack() == t)
    }
}

impl std::fmt::Display for DType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// DLPack's `DLDataType`, bit for bit (`uint8_t code; uint8_t bits; uint16_t lanes`).
#[repr(C)]
#[derive(StableAbi, Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DlDataType {
    /// Type code, see [`dl_code`].
    pub code: u8,
    /// Bits per lane.
    pub bits: u8,
    /// Lanes per element (yam uses 1: channels are a tensor dimension).
    pub lanes: u16,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dlpack_round_trip_for_every_dtype() {
        for d in DType::ALL {
            assert_eq!(DType::from_dlpack(d.to_dlpack()), Some(d));
            assert_eq!(DType::from_name(d.name()), Some(d));
            assert_eq!(DType::from_code(d as u8), Some(d));
            assert_eq!(usize::from(d.to_dlpack().bits) / 8, d.size_bytes());
        }
        let half = DlDataType {
            code: dl_code::FLOAT,
            bits: 16,
            lanes: 1,
        };
        assert_eq!(DType::from_dlpack(half), None);
        assert_eq!(DType::from_code(0), None);
    }
}

//! Element types the kernels are generic over, and typed access to [`Image`] data.

use yam_plugin_api::{Image, PixelData};

/// An element type of input images (u8, u16, f32).
pub trait Pixel: crate::recycle::Recyclable + PartialOrd + std::fmt::Debug {
    /// Smallest value (`-f32::MAX` for f32, as OpenCV's morphology uses).
    const MIN: Self;
    /// Largest value.
    const MAX: Self;
    /// Exact widening.
    fn to_f64(self) -> f64;
    /// OpenCV `saturate_cast`: round half to even, then clamp (plain cast for f32).
    fn saturate_from_f64(v: f64) -> Self;
    /// Borrow typed elements of an image of this type.
    fn slice(img: &Image) -> Option<&[Self]>;
    /// Wrap typed elements into pixel data.
    fn wrap(v: Vec<Self>) -> PixelData;
}

impl Pixel for u8 {
    const MIN: u8 = 0;
    const MAX: u8 = u8::MAX;
    fn to_f64(self) -> f64 {
        f64::from(self)
    }
    fn saturate_from_f64(v: f64) -> u8 {
        v.round_ties_even().clamp(0.0, 255.0) as u8
    }
    fn slice(img: &Image) -> Option<&[u8]> {
        match &img.data {
            PixelData::U8(v) => Some(v),
            _ => None,
        }
    }
    fn wrap(v: Vec<u8>) -> PixelData {
        PixelData::U8(v)
    }
}

impl Pixel for u16 {
    const MIN: u16 = 0;
    const MAX: u16 = u16::MAX;
    fn to_f64(self) -> f64 {
        f64::from(self)
    }
    fn saturate_from_f64(v: f64) -> u16 {
        v.round_ties_even().clamp(0.0, 65535.0) as u16
    }
    fn slice(img: &Image) -> Option<&[u16]> {
        match &img.data {
            PixelData::U16(v) => Some(v),
            _ => None,
        }
    }
    fn wrap(v: Vec<u16>) -> PixelData {
        PixelData::U16(v)
    }
}

impl Pixel for f32 {
    const MIN: f32 = -f32::MAX;
    const MAX: f32 = f32::MAX;
    fn to_f64(self) -> f64 {
        f64::from(self)
    }
    fn saturate_from_f64(v: f64) -> f32 {
        v as f32
    }
    fn slice(img: &Image) -> Option<&[f32]> {
        match &img.data {
            PixelData::F32(v) => Some(v),
            _ => None,
        }
    }
    fn wrap(v: Vec<f32>) -> PixelData {
        PixelData::F32(v)
    }
}

/// Calls `$body` with `$T` bound to the element type of `$img` (u8, u16 or f32); evaluates
/// `$other` for any other dtype.
#[macro_export]
macro_rules! with_pixel_type {
    ($img:expr, $T:ident => $body:expr, _ => $other:expr) => {
        match $img.dtype() {
            yam_plugin_api::DType::U8 => {
                type $T = u8;
                $body
            }
            yam_plugin_api::DType::U16 => {
                type $T = u16;
                $body
            }
            yam_plugin_api::DType::F32 => {
                type $T = f32;
                $body
            }
            _ => $other,
        }
    };
}

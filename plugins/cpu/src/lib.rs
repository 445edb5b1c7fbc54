//! yam's reference CPU backend: every kernel to OpenCV's semantics.

pub mod ops;
pub mod pixel;

//! Reading and writing images (PNG, TIFF, JPEG, NPY).

pub mod npy;

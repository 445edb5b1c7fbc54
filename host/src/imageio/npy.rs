//! NumPy `.npy` files (version 1.0-3.0).

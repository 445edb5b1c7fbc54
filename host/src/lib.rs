//! The yam host library.

pub mod imageio;

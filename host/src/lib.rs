//! The yam host library.

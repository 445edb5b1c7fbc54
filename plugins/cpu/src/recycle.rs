//! Output buffers recycled between kernel calls.
//!
//! A fresh output of a large image costs a page fault per 4 KiB page (and the kernel zeroing
//! it), which for memory-bound kernels (threshold, morphology, labeling) is as much as the
//! kernel itself. The executor keeps the buffers its slots give up ([`Spares`]) and lends them
//! to the kernels of the next call through a thread-local ([`Spares::lend`]); a kernel asks for
//! its output with [`output_vec`], which takes a spare of the right type and length when there
//! is one.
//!
//! A recycled buffer holds stale values, so [`output_vec`] is only for outputs a kernel
//! overwrites completely. To prove that, debug builds (every `cargo test`) fill a fresh output
//! with a poison value instead of zeros: a kernel that leaves an element unwritten fails its
//! reference tests.

use std::cell::RefCell;

use yam_plugin_api::{DType, PixelData};

/// Spare buffers kept at most: two per image in flight is enough for a pipeline's ping-pong.
const MAX_SPARES: usize = 4;

thread_local! {
    static LENT: RefCell<Vec<PixelData>> = const { RefCell::new(Vec::new()) };
}

/// Buffers an executor gave up, ready for reuse.
#[derive(Debug, Default)]
pub(crate) struct Spares(Vec<PixelData>);

impl Spares {
    /// Keeps `data` for reuse, dropping the oldest spare beyond [`MAX_SPARES`].
    pub(crate) fn give(&mut self, data: PixelData) {
        if data.is_empty() {
            return;
        }
        if self.0.len() == MAX_SPARES {
            self.0.remove(0);
        }
        self.0.push(data);
    }

    /// Takes a spare of `len` elements of `data`'s type, if there is one.
    pub(crate) fn take_like(&mut self, dtype: DType, len: usize) -> Option<PixelData> {
        let i = self
            .0
            .iter()
            .position(|d| d.dtype() == dtype && d.len() == len)?;
        Some(self.0.remove(i))
    }

    /// Takes back the spare whose elements start at address `buffer`, if it is still here.
    pub(crate) fn take_buffer(&mut self, buffer: usize) -> Option<PixelData> {
        let i = self
            .0
            .iter()
            .position(|d| d.as_ne_bytes().as_ptr() as usize == buffer)?;
        Some(self.0.remove(i))
    }

    /// Runs `f` with the spares available to [`output_vec`] on this thread; what `f` did not
    /// take comes back.
    pub(crate) fn lend<R>(&mut self, f: impl FnOnce() -> R) -> R {
        LENT.with(|l| std::mem::swap(&mut *l.borrow_mut(), &mut self.0));
        // Taken back even if `f` panics (the plugin boundary catches panics).
        struct Back<'a>(&'a mut Vec<PixelData>);
        impl Drop for Back<'_> {
            fn drop(&mut self) {
                LENT.with(|l| std::mem::swap(&mut *l.borrow_mut(), self.0));
            }
        }
        let _back = Back(&mut self.0);
        f()
    }
}

/// Element types an output can be recycled as.
pub trait Recyclable: Copy + Default + Send + Sync + 'static {
    /// The dtype of `PixelData` holding this type.
    const DTYPE: DType;
    /// What a fresh output holds in debug builds: a value no kernel produces by accident.
    const POISON: Self;
    /// Zero-filled memory straight from the allocator (fresh pages need no fill pass).
    fn zeroed_vec(n: usize) -> Vec<Self>;
    /// The typed vector inside `data`, or `data` back when the type differs.
    fn unwrap(data: PixelData) -> Result<Vec<Self>, PixelData>;
}

macro_rules! recyclable {
    ($($t:ty => $variant:ident, $poison:expr;)*) => {$(
        impl Recyclable for $t {
            const DTYPE: DType = DType::$variant;
            const POISON: $t = $poison;
            fn zeroed_vec(n: usize) -> Vec<$t> {
                vec![0 as $t; n]
            }
            fn unwrap(data: PixelData) -> Result<Vec<$t>, PixelData> {
                match data {
                    PixelData::$variant(v) => Ok(v),
                    other => Err(other),
                }
            }
        }
    )*};
}

recyclable! {
    u8 => U8, 0xA5;
    u16 => U16, 0xA5A5;
    i16 => I16, 0x5A5A;
    i32 => I32, 0x5A5A_5A5A;
    f32 => F32, f32::NAN;
}

/// An output of `n` elements whose every element the caller overwrites: a lent spare when one
/// fits, else fresh memory (zeroed in release builds, [`Recyclable::POISON`] in debug builds).
pub fn output_vec<T: Recyclable>(n: usize) -> Vec<T> {
    let spare = LENT.with(|l| {
        let mut l = l.borrow_mut();
        let i = l
            .iter()
            .position(|d| d.len() == n && d.dtype() == T::DTYPE)?;
        T::unwrap(l.remove(i)).ok()
    });
    match spare {
        Some(v) => v,
        None if cfg!(debug_assertions) => vec![T::POISON; n],
        None => {
            let mut v = T::zeroed_vec(n);
            yam_plugin_api::memory::huge_pages(&mut v);
            v
        }
    }
}

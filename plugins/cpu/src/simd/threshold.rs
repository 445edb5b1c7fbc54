//! Integer threshold on vectors: one saturating compare and one select per vector, no table.

use yam_plugin_api::kernels::ThresholdType;

use super::{Kernel, Simd, UnsignedLane};

/// A threshold resolved for one integer type (see `ops::threshold`).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Rule<T> {
    pub kind: ThresholdType,
    /// `T = floor(thresh)` clamped to the type; with `all_above`, every pixel counts as above.
    pub thresh: T,
    pub all_above: bool,
    /// Saturated `maxval`.
    pub maxval: T,
    /// What `trunc` writes above the threshold (the saturated threshold).
    pub trunc: T,
}

impl<T: UnsignedLane + PartialOrd> Rule<T> {
    /// The rule for one pixel (the vector loop's tail).
    #[inline(always)]
    fn pixel(&self, v: T) -> T {
        let above = self.all_above || v > self.thresh;
        let zero = T::default();
        let pick = |yes: T, no: T| if above { yes } else { no };
        match self.kind {
            ThresholdType::Binary => pick(self.maxval, zero),
            ThresholdType::BinaryInv => pick(zero, self.maxval),
            ThresholdType::Trunc => pick(self.trunc, v),
            ThresholdType::ToZero => pick(v, zero),
            ThresholdType::ToZeroInv => pick(zero, v),
        }
    }
}

/// Writes the thresholded `src` into `dst` (same length).
#[derive(Debug)]
pub(crate) struct Threshold<'a, T> {
    pub src: &'a [T],
    pub dst: &'a mut [T],
    pub rule: Rule<T>,
}

impl<T: UnsignedLane + PartialOrd> Kernel for Threshold<'_, T> {
    type Output = ();

    #[inline(always)]
    fn run<S: Simd>(self, s: S) {
        let r = self.rule;
        let zero = T::vsplat(s, T::default());
        let c = Consts::<S> {
            zero,
            // Masks `v <= T` with this: all zeros when every pixel is above.
            keep: if r.all_above {
                zero
            } else {
                T::veq(s, zero, zero)
            },
            thresh: T::vsplat(s, r.thresh),
            maxval: T::vsplat(s, r.maxval),
            trunc: T::vsplat(s, r.trunc),
        };
        let n = T::lanes::<S>();
        let mut src_v = self.src.chunks_exact(n);
        let mut dst_v = self.dst.chunks_exact_mut(n);
        // A match per vector (not a closure per kind: closures would not inherit the
        // target features); the branch is the same every time.
        for (a, b) in (&mut src_v).zip(&mut dst_v) {
            T::store(s, b, apply::<S, T>(s, r.kind, &c, T::load(s, a)));
        }
        for (a, b) in src_v.remainder().iter().zip(dst_v.into_remainder()) {
            *b = r.pixel(*a);
        }
    }
}

/// The rule's values in vectors.
struct Consts<S: Simd> {
    zero: S::V,
    keep: S::V,
    thresh: S::V,
    maxval: S::V,
    trunc: S::V,
}

/// The rule on one vector.
#[inline(always)]
fn apply<S: Simd, T: UnsignedLane>(s: S, kind: ThresholdType, c: &Consts<S>, v: S::V) -> S::V {
    // All ones where v <= T: v - T saturates to 0 exactly there.
    let le = s.and(T::veq(s, T::vsubs(s, v, c.thresh), c.zero), c.keep);
    match kind {
        ThresholdType::Binary => s.andnot(le, c.maxval),
        ThresholdType::BinaryInv => s.and(le, c.maxval),
        ThresholdType::Trunc => T::vmin(s, v, c.trunc),
        ThresholdType::ToZero => s.andnot(le, v),
        ThresholdType::ToZeroInv => s.and(le, v),
    }
}

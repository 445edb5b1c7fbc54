//! Integer threshold on vectors: one saturating compare and one select per vector, no table.

use yam_plugin_api::kernels::ThresholdType;

use super::{Kernel, Lane, Simd};

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

impl<T: Lane + PartialOrd> Rule<T> {
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

impl<T: Lane + PartialOrd> Kernel for Threshold<'_, T> {
    type Output = ();

    #[inline(always)]
    fn run<S: Simd>(self, s: S) {
        let r = self.rule;
        let zero = T::vsplat(s, T::default());
        // `le` is all ones where v <= T: v - T saturates to 0 exactly there.
        let keep = if r.all_above {
            zero
        } else {
            T::veq(s, zero, zero)
        };
        let t = T::vsplat(s, r.thresh);
        let le = |v| s.and(T::veq(s, T::vsubs(s, v, t), zero), keep);
        let (m, tr) = (T::vsplat(s, r.maxval), T::vsplat(s, r.trunc));
        match r.kind {
            ThresholdType::Binary => each(s, self.src, self.dst, r, |v| s.andnot(le(v), m)),
            ThresholdType::BinaryInv => each(s, self.src, self.dst, r, |v| s.and(le(v), m)),
            ThresholdType::Trunc => each(s, self.src, self.dst, r, |v| T::vmin(s, v, tr)),
            ThresholdType::ToZero => each(s, self.src, self.dst, r, |v| s.andnot(le(v), v)),
            ThresholdType::ToZeroInv => each(s, self.src, self.dst, r, |v| s.and(le(v), v)),
        }
    }
}

/// Applies `f` to every whole vector of `src` and the rule to the elements left over.
#[inline(always)]
fn each<S: Simd, T: Lane + PartialOrd>(
    s: S,
    src: &[T],
    dst: &mut [T],
    rule: Rule<T>,
    f: impl Fn(S::V) -> S::V,
) {
    let n = T::lanes::<S>();
    let mut src_v = src.chunks_exact(n);
    let mut dst_v = dst.chunks_exact_mut(n);
    for (a, b) in (&mut src_v).zip(&mut dst_v) {
        T::store(s, b, f(T::load(s, a)));
    }
    for (a, b) in src_v.remainder().iter().zip(dst_v.into_remainder()) {
        *b = rule.pixel(*a);
    }
}

//! Element-wise maps over several equally indexed inputs: the inner loop of the row and column
//! passes (separable filters, morphology).

/// `out[x] = f([ins[0][x], …, ins[K-1][x]])` for every `x` of `out`; each input must be at
/// least as long as `out`.
///
/// The lengths are checked once, up front, and the loop reads without bounds checks: with a
/// checked index per input and element, LLVM vectorised the loop but kept up to 32 elements of
/// every row for a scalar epilogue that re-checks the bounds, which cost a third of the f32
/// Gaussian's row pass and a tenth of a 3x3 erosion.
#[inline(always)]
pub(crate) fn map_aligned<const K: usize, S: Copy, O>(
    out: &mut [O],
    ins: [&[S]; K],
    f: impl Fn([S; K]) -> O,
) {
    let n = out.len();
    assert!(
        ins.iter().all(|s| s.len() >= n),
        "map_aligned: an input is shorter than the output"
    );
    for (x, o) in out.iter_mut().enumerate() {
        // SAFETY: x < n <= every input's length (asserted above).
        *o = f(std::array::from_fn(|k| unsafe { *ins[k].get_unchecked(x) }));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_every_element_of_every_input() {
        let a: Vec<u32> = (0..100).collect();
        let b: Vec<u32> = (0..130).map(|x| 1000 * x).collect();
        let mut out = vec![0u32; 97];
        map_aligned(&mut out, [&a[3..], &b[..]], |[p, q]| p + q);
        let naive: Vec<u32> = (0..97).map(|x| a[x + 3] + b[x]).collect();
        assert_eq!(out, naive);
    }

    #[test]
    #[should_panic(expected = "shorter than the output")]
    fn a_short_input_panics_instead_of_reading_past_it() {
        let a = [1u8; 10];
        let mut out = [0u8; 11];
        map_aligned(&mut out, [&a[..]], |[p]| p);
    }
}

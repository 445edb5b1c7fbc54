//! How many pixels have each value, for u8 and u16 images (Otsu's threshold, `histogram`).

use rayon::prelude::*;

/// How many pixels have each u8 value, chunks counted in parallel ([`count_pairs`]) and summed.
pub(crate) fn counts_u8(src: &[u8]) -> Vec<u64> {
    // Two chunks per thread, so uneven chunks (flat areas count faster) still share out, but
    // at least 2^20 pixels: each chunk clears and folds a 65536-bin table. Below 2^32 pairs,
    // so u32 counts.
    let chunk = src
        .len()
        .div_ceil(2 * rayon::current_num_threads())
        .clamp(1 << 20, 1 << 31);
    par_histogram(src, chunk, 256, count_pairs)
}

/// How many pixels have each u16 value, chunks counted in parallel (four tables each,
/// [`count_tables`]) and summed.
pub(crate) fn counts_u16(src: &[u16]) -> Vec<u64> {
    // Small enough for u32 counts, large enough to pay for the tables of a chunk.
    par_histogram(src, 1 << 20, 65536, count_tables::<65536, 4, _>)
}

/// `count` of every `chunk`-long piece of `src`, in parallel, summed into `bins` counts.
fn par_histogram<T: Sync>(
    src: &[T],
    chunk: usize,
    bins: usize,
    count: impl Fn(&[T]) -> Vec<u64> + Sync + Send,
) -> Vec<u64> {
    src.par_chunks(chunk).map(count).reduce(
        || vec![0u64; bins],
        |mut a, b| {
            a.iter_mut().zip(b).for_each(|(a, b)| *a += b);
            a
        },
    )
}

/// One chunk's counts of u8 values, counted two at a time: one increment per pair of
/// neighbours in a 65536-bin table of pairs, then each bin's count goes to both of its values.
/// Half the instructions of one increment per pixel, which is what limits a histogram: 4096²
/// Otsu 7.0 -> 5.1 ms.
fn count_pairs(src: &[u8]) -> Vec<u64> {
    const BLOCK: usize = 64;
    let mut pairs: Box<[u32; 65536]> = vec![0u32; 65536]
        .into_boxed_slice()
        .try_into()
        .expect("65536 bins");
    let pair = |p: &[u8]| usize::from(u16::from_le_bytes([p[0], p[1]]));
    let mut blocks = src.chunks_exact(BLOCK);
    for block in &mut blocks {
        let block: &[u8; BLOCK] = block.try_into().expect("an exact chunk");
        // A block that repeats its first 8 bytes (a flat area, or a pattern of period 2, 4
        // or 8) adds 8 to each of their 4 pairs: counted pair by pair, each increment would
        // wait for the previous one to the same bin (a flat image: 3x slower than with one
        // increment per pixel in 8 tables).
        let words: [u64; BLOCK / 8] = std::array::from_fn(|i| {
            u64::from_le_bytes(block[8 * i..8 * i + 8].try_into().expect("8 bytes"))
        });
        if words.iter().all(|&w| w == words[0]) {
            for p in block[..8].chunks_exact(2) {
                pairs[pair(p)] += (BLOCK / 8) as u32;
            }
            continue;
        }
        for p in block.chunks_exact(2) {
            pairs[pair(p)] += 1;
        }
    }
    let mut h = vec![0u64; 256];
    let mut rest = blocks.remainder().chunks_exact(2);
    for p in &mut rest {
        pairs[pair(p)] += 1;
    }
    if let [last] = rest.remainder() {
        h[usize::from(*last)] += 1;
    }
    // Bin `first + 256·second` is column `first` of row `second`.
    let mut firsts = [0u64; 256];
    for (second, row) in pairs.chunks_exact(256).enumerate() {
        h[second] += row.iter().map(|&c| u64::from(c)).sum::<u64>();
        for (f, &c) in firsts.iter_mut().zip(row) {
            *f += u64::from(c);
        }
    }
    h.iter_mut().zip(firsts).for_each(|(h, f)| *h += f);
    h
}

/// One chunk's counts in `W` interleaved tables: a run of equal values increments `W`
/// different counters instead of waiting on one (u16: 4 tables of 65536 bins).
fn count_tables<const N: usize, const W: usize, T: Copy + Into<usize>>(src: &[T]) -> Vec<u64> {
    let mut h = vec![[0u32; W]; N];
    let mut groups = src.chunks_exact(W);
    for g in &mut groups {
        for (t, &v) in g.iter().enumerate() {
            h[v.into()][t] += 1;
        }
    }
    for &v in groups.remainder() {
        h[v.into()][0] += 1;
    }
    h.iter()
        .map(|l| l.iter().map(|&c| u64::from(c)).sum())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// u8 values mixing noise with runs that repeat 1, 2, 3, 4 or 8 values, of lengths that
    /// are not multiples of the 64-pixel block: blocks that take the repeated-block path,
    /// blocks that straddle a run's end, and pairs across them.
    fn mixed_u8(n: usize) -> Vec<u8> {
        let mut v = Vec::with_capacity(n + 400);
        let mut run = 0usize;
        while v.len() < n {
            let period = [1, 2, 4, 8, 3, 0][run % 6];
            for i in 0..37 + run * 101 % 300 {
                v.push(match period {
                    0 => (v.len() * 7919 % 251) as u8,
                    p => (run * 31 + i % p * 57) as u8,
                });
            }
            run += 1;
        }
        v.truncate(n);
        v
    }

    fn naive_counts<T: Copy + Into<usize>>(v: &[T], bins: usize) -> Vec<u64> {
        let mut want = vec![0u64; bins];
        v.iter().for_each(|&x| want[x.into()] += 1);
        want
    }

    /// The parallel histograms against one counter per value, over lengths that leave
    /// remainders in the last block and pair and span several chunks.
    #[test]
    fn counts_every_value() {
        for n in [
            0usize,
            1,
            7,
            63,
            64,
            65,
            4096,
            (1 << 20) + 5,
            3 << 20,
            (9 << 20) + 3,
        ] {
            let noise: Vec<u8> = (0..n)
                .map(|i| ((i * 7919) % 251 + i / 997 % 5) as u8)
                .collect();
            assert_eq!(
                counts_u8(&noise),
                naive_counts(&noise, 256),
                "u8 noise, {n}"
            );
            let mixed = mixed_u8(n);
            assert_eq!(counts_u8(&mixed), naive_counts(&mixed, 256), "u8 runs, {n}");
            let flat = vec![200u8; n];
            assert_eq!(counts_u8(&flat), naive_counts(&flat, 256), "u8 flat, {n}");
            let v16: Vec<u16> = (0..n).map(|i| (i * 40503 % 65521) as u16).collect();
            assert_eq!(counts_u16(&v16), naive_counts(&v16, 65536), "u16, {n}");
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]

        /// Pair counting against one counter per value, on runs of repeated patterns (the
        /// repeated-block path) between arbitrary bytes, at any offset.
        #[test]
        fn pair_counts_match_naive(
            runs in proptest::collection::vec(
                (proptest::collection::vec(any::<u8>(), 1..9), 0usize..200),
                0..12,
            ),
            skip in 0usize..64,
        ) {
            let v: Vec<u8> = runs
                .iter()
                .flat_map(|(pattern, len)| pattern.iter().copied().cycle().take(*len))
                .collect();
            let v = &v[skip.min(v.len())..];
            prop_assert_eq!(count_pairs(v), naive_counts(v, 256));
        }
    }
}

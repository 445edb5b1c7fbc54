//! Deterministic test inputs: Knuth's MMIX linear congruential generator (tests only).

/// A generator of 31-bit values (the high bits of each LCG state after `seed`).
pub(crate) fn lcg(seed: u64) -> impl FnMut() -> u32 {
    let mut state = seed;
    move || {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (state >> 33) as u32
    }
}

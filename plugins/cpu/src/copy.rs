//! Copies between host memory and the executor's buffers: in parallel pieces for large
//! images, so a pipeline's upload and download use the threads its kernels use.

use rayon::prelude::*;

/// Bytes per parallel piece: large enough that a piece costs far more than handing it out.
const PIECE: usize = 1 << 20;

/// `dst.copy_from_slice(src)`, in [`PIECE`]-sized pieces on the rayon pool when there are
/// several of them and more than one thread.
pub(crate) fn copy_bytes(dst: &mut [u8], src: &[u8]) {
    assert_eq!(dst.len(), src.len(), "copy_bytes: lengths differ");
    if dst.len() <= PIECE || rayon::current_num_threads() == 1 {
        dst.copy_from_slice(src);
        return;
    }
    dst.par_chunks_mut(PIECE)
        .zip(src.par_chunks(PIECE))
        .for_each(|(d, s)| d.copy_from_slice(s));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copies_every_byte_around_the_piece_size() {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(3)
            .build()
            .unwrap();
        for len in [0, 1, PIECE - 1, PIECE, PIECE + 1, 3 * PIECE + 17] {
            let src: Vec<u8> = (0..len).map(|i| (i * 31 + i / 4093) as u8).collect();
            for threads in [1, 3] {
                let mut dst = vec![0xA5u8; len];
                if threads == 1 {
                    copy_bytes(&mut dst, &src);
                } else {
                    pool.install(|| copy_bytes(&mut dst, &src));
                }
                assert!(dst == src, "length {len}, {threads} threads");
            }
        }
    }

    #[test]
    #[should_panic(expected = "lengths differ")]
    fn refuses_different_lengths() {
        copy_bytes(&mut [0u8; 3], &[1u8; 4]);
    }
}

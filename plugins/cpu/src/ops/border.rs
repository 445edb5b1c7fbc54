//! Border handling shared by the neighbourhood kernels: index tables and padded rows.
//!
//! Kernels look a coordinate up in a table built once per call (one [`BorderMode::map`] per
//! padded position) instead of calling `map` per tap.

use yam_plugin_api::kernels::BorderMode;

/// Source index of every padded coordinate: entry `i` is `mode.map(i - before, n)`, for
/// `i` in `0..before + n + after`; `None` means the constant border value. Needs `n > 0`.
pub fn index_table(mode: BorderMode, n: usize, before: usize, after: usize) -> Vec<Option<usize>> {
    // `map` never terminates for reflections of an empty axis.
    assert!(n > 0, "border index table for an empty axis");
    (0..before + n + after)
        .map(|i| mode.map(i as isize - before as isize, n))
        .collect()
}

/// A row padded on both sides by the border rule: `before` + `width` + `after` pixels of
/// `channels` interleaved elements, built from a column [`index_table`].
#[derive(Debug, Clone)]
pub struct RowPadder {
    table: Vec<Option<usize>>,
    before: usize,
    width: usize,
    channels: usize,
}

impl RowPadder {
    /// Padding for rows of `width` (> 0) pixels of `channels` elements.
    pub fn new(
        mode: BorderMode,
        width: usize,
        channels: usize,
        before: usize,
        after: usize,
    ) -> RowPadder {
        RowPadder {
            table: index_table(mode, width, before, after),
            before,
            width,
            channels,
        }
    }

    /// Elements in a padded row.
    pub fn padded_len(&self) -> usize {
        self.table.len() * self.channels
    }

    /// Writes padded row `source` of `data` (rows of `width * channels` elements) into `out`,
    /// or the constant row when the border made it up (`None`), and prefetches the source
    /// row after it, which a row ring pads next.
    pub fn pad_source<T: Copy>(
        &self,
        data: &[T],
        source: Option<usize>,
        constant: T,
        out: &mut [T],
    ) {
        let row_len = self.width * self.channels;
        match source {
            Some(y) => {
                self.pad(&data[y * row_len..(y + 1) * row_len], constant, out);
                prefetch_row(data, row_len, y + 1);
            }
            None => out.fill(constant),
        }
    }

    /// Elements `start..start + len` of padded row `source` (indices into the padded row, as
    /// [`Self::pad_source`] writes it): borrowed straight from `data` when they all lie inside
    /// the source row, else assembled in `buf` (at least `len` long). Prefetches the same
    /// elements of the next source row, which a strip of a row ring reads next.
    pub fn segment<'a, T: Copy>(
        &self,
        data: &'a [T],
        source: Option<usize>,
        constant: T,
        (start, len): (usize, usize),
        buf: &'a mut [T],
    ) -> &'a [T] {
        let c = self.channels;
        let row_len = self.width * c;
        let Some(y) = source else {
            buf[..len].fill(constant);
            return &buf[..len];
        };
        let row = &data[y * row_len..(y + 1) * row_len];
        let first = self.before * c;
        // The segment's elements that come from the source row as they are (maybe none).
        let (mut inner_start, mut inner_end) =
            (start.max(first), (start + len).min(first + row_len));
        if inner_start >= inner_end {
            (inner_start, inner_end) = (start, start);
        }
        let out = &mut buf[..len];
        if inner_start < inner_end {
            let inner = inner_start - first..inner_end - first;
            if let Some(next) = data.get((y + 1) * row_len..(y + 2) * row_len) {
                prefetch(&next[inner.clone()]);
            }
            if inner.len() == len {
                return &row[inner];
            }
            out[inner_start - start..inner_end - start].copy_from_slice(&row[inner]);
        }
        let outer = (start..inner_start).chain(inner_end..start + len);
        for i in outer {
            out[i - start] = match self.table[i / c] {
                Some(j) => row[j * c + i % c],
                None => constant,
            };
        }
        out
    }

    /// Writes `row` (`width * channels` elements) padded into `out` (`padded_len` elements);
    /// outside pixels that the table marks constant get `constant`.
    pub fn pad<T: Copy>(&self, row: &[T], constant: T, out: &mut [T]) {
        let c = self.channels;
        let inner = self.before * c..(self.before + self.width) * c;
        out[inner.clone()].copy_from_slice(row);
        let outer = (0..self.before).chain(self.before + self.width..self.table.len());
        for i in outer {
            let dst = &mut out[i * c..(i + 1) * c];
            match self.table[i] {
                Some(j) => dst.copy_from_slice(&row[j * c..(j + 1) * c]),
                None => dst.fill(constant),
            }
        }
    }
}

/// Asks the CPU to start loading `data` into cache. Row-ring kernels call it for the source
/// row they will pad next, so the load overlaps the current row's arithmetic: rows start on a
/// new 4 KiB page, where the hardware prefetcher stops, and a row copy waiting on memory costs
/// as much as the arithmetic of a small kernel.
#[inline]
pub(crate) fn prefetch<T>(data: &[T]) {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        let bytes = std::mem::size_of_val(data);
        let base = data.as_ptr().cast::<i8>();
        for offset in (0..bytes).step_by(64) {
            // SAFETY: a prefetch never faults and reads nothing; the address is inside `data`.
            unsafe { _mm_prefetch::<_MM_HINT_T0>(base.add(offset)) };
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = data;
}

/// Every border mode, for tests that cover them all.
#[cfg(test)]
pub(crate) const ALL_MODES: [BorderMode; 5] = [
    BorderMode::Reflect101,
    BorderMode::Reflect,
    BorderMode::Replicate,
    BorderMode::Wrap,
    BorderMode::Constant,
];

/// Asks the CPU to fetch, for writing, one cache line in each 4 KiB page that `data` touches:
/// its first line, then the first line of every later page. Row-ring kernels call it for the output row they write two rows later: a store
/// that misses waits for its line, and the hardware prefetcher does not cross into a new page.
/// One request per page, not per line: a request per line of a whole row fills the line-fill
/// buffers and stalls the kernel (the f32 Gaussian was 25 % slower that way).
#[inline]
pub(crate) fn prefetch_pages_for_write<T>(data: &[T]) {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_ET0};
        const PAGE: usize = 4096;
        let start = data.as_ptr() as usize;
        let end = start + std::mem::size_of_val(data);
        let mut line = start;
        while line < end {
            // SAFETY: a prefetch never faults and writes nothing; the address is inside `data`.
            unsafe { _mm_prefetch::<_MM_HINT_ET0>(line as *const i8) };
            line = (line / PAGE + 1) * PAGE;
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = data;
}

/// [`prefetch`] of row `y` of `data` (rows of `row_len`), if there is one: what a row ring
/// pads after row `y - 1`.
#[inline]
pub(crate) fn prefetch_row<T>(data: &[T], row_len: usize, y: usize) {
    if let Some(row) = data.get(y * row_len..(y + 1) * row_len) {
        prefetch(row);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn padded_rows_follow_opencv_patterns() {
        // abcdefgh padded by 3 on each side, as SEMANTICS.md draws the modes.
        let row: Vec<u8> = (b'a'..=b'h').collect();
        let pad = |mode| {
            let p = RowPadder::new(mode, 8, 1, 3, 3);
            let mut out = vec![0u8; p.padded_len()];
            p.pad(&row, b'.', &mut out);
            String::from_utf8(out).unwrap()
        };
        assert_eq!(pad(BorderMode::Reflect101), "dcbabcdefghgfe");
        assert_eq!(pad(BorderMode::Reflect), "cbaabcdefghhgf");
        assert_eq!(pad(BorderMode::Replicate), "aaaabcdefghhhh");
        assert_eq!(pad(BorderMode::Wrap), "fghabcdefghabc");
        assert_eq!(pad(BorderMode::Constant), "...abcdefgh...");
    }

    #[test]
    fn multichannel_rows_move_whole_pixels() {
        let row = [1u16, 10, 2, 20];
        let p = RowPadder::new(BorderMode::Reflect101, 2, 2, 2, 1);
        let mut out = vec![0; p.padded_len()];
        p.pad(&row, 0, &mut out);
        // padded pixels: map(-2)=0, map(-1)=1, 0, 1, map(2)=0
        assert_eq!(out, [1, 10, 2, 20, 1, 10, 2, 20, 1, 10]);
    }

    #[test]
    fn segments_are_slices_of_the_padded_row() {
        // Every segment of every padded row (constant rows included), against `pad`, for
        // rows narrower and wider than the padding, 1 and 3 channels, every mode.
        for mode in ALL_MODES {
            for (width, c, before, after) in
                [(8, 1, 3, 3), (2, 3, 4, 4), (5, 3, 1, 2), (1, 1, 2, 2)]
            {
                let data: Vec<u16> = (0..2 * width * c).map(|i| i as u16 + 1).collect();
                let p = RowPadder::new(mode, width, c, before, after);
                let len = p.padded_len();
                for source in [Some(0), Some(1), None] {
                    let mut whole = vec![0; len];
                    match source {
                        Some(y) => p.pad(&data[y * width * c..][..width * c], 99, &mut whole),
                        None => whole.fill(99),
                    }
                    for start in 0..len {
                        for n in 1..=len - start {
                            let mut buf = vec![7; len];
                            let seg = p.segment(&data, source, 99, (start, n), &mut buf);
                            assert_eq!(
                                seg,
                                &whole[start..start + n],
                                "{mode:?} {width}x{c} {source:?} {start}+{n}"
                            );
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn tables_wider_than_the_row_keep_reflecting() {
        let t = index_table(BorderMode::Reflect101, 2, 4, 0);
        // -4 -> 0, -3 -> 1, -2 -> 0, -1 -> 1
        assert_eq!(t, [Some(0), Some(1), Some(0), Some(1), Some(0), Some(1)]);
    }
}

//! Connected components: OpenCV `connectedComponents` with its label numbering.
//!
//! Rows are split into one band per thread. Each band is scanned on its own, in OpenCV's
//! numbering order (pixels for 4-connectivity, 2×2 blocks for 8), giving provisional labels
//! and a union-find whose roots are the smallest label of their set. The bands' labels are then
//! laid end to end in band order (so label order is still scan order), the pairs of rows where
//! bands meet are merged, and a last pass writes each pixel its root's rank. One band (one
//! thread) needs no merge; OpenCV's parallel BBDT works the same way.

use std::ops::Range;

use rayon::prelude::*;
use yam_plugin_api::{DType, Image, PixelData, PluginError};

mod pixel_pass;

use self::pixel_pass::PixelPass;
use crate::isa::Isa;
use crate::recycle::output_vec;

/// OpenCV `connectedComponents`; returns i32 labels and the label count (background included).
///
/// Nonzero pixels of a 1-channel u8 mask are foreground, labelled by 4- or 8-connectivity;
/// background is 0. Numbering follows OpenCV's default algorithms: with connectivity 8 (the
/// 2×2-block scan of Spaghetti/BBDT) components are numbered in the order of the first 2×2
/// block, in block-raster order, holding one of their pixels; with connectivity 4 in raster
/// order of their first pixel.
pub fn connected_components(src: &Image, connectivity: u8) -> Result<(Image, u32), PluginError> {
    if connectivity != 4 && connectivity != 8 {
        return Err(PluginError::invalid(format!(
            "connected_components: connectivity {connectivity} is not allowed (4 or 8)"
        )));
    }
    let mask = match &src.data {
        PixelData::U8(v) if src.channels == 1 => v,
        _ => {
            return Err(PluginError::unsupported(format!(
                "connected_components: input must be a 1-channel u8 mask, got {} with {} channels",
                src.dtype(),
                src.channels
            )))
        }
    };
    let (labels, count) = label(mask, src.width, src.height, connectivity == 8);
    let out = Image {
        width: src.width,
        height: src.height,
        channels: 1,
        data: PixelData::I32(labels),
    };
    debug_assert_eq!(out.dtype(), DType::I32);
    Ok((out, count))
}

/// Labels `mask` (`h` rows of `w`); returns the labels and the count including background.
pub(crate) fn label(mask: &[u8], w: usize, h: usize, eight: bool) -> (Vec<i32>, u32) {
    let rows = if eight { h.div_ceil(2) } else { h };
    let bands = rayon::current_num_threads().clamp(1, rows.max(1));
    label_in_bands(mask, w, h, eight, bands)
}

/// [`label`] with the scan split into `bands` bands (tests force several on small images).
fn label_in_bands(mask: &[u8], w: usize, h: usize, eight: bool, bands: usize) -> (Vec<i32>, u32) {
    if w == 0 || h == 0 {
        return (Vec::new(), 1);
    }
    if eight {
        label8(mask, w, h, bands)
    } else {
        label4(mask, w, h, bands)
    }
}

/// `n` near-equal consecutive ranges covering `0..rows`.
fn split(rows: usize, n: usize) -> Vec<Range<usize>> {
    (0..n).map(|i| rows * i / n..rows * (i + 1) / n).collect()
}

/// Cuts `data` (rows of `row_len`) into the row ranges of `bands`.
fn band_slices<'a, T>(
    mut data: &'a mut [T],
    row_len: usize,
    bands: &[Range<usize>],
) -> Vec<&'a mut [T]> {
    bands
        .iter()
        .map(|r| {
            let (head, tail) = std::mem::take(&mut data).split_at_mut(r.len() * row_len);
            data = tail;
            head
        })
        .collect()
}

/// Foreground test that reads outside the row as background.
#[inline(always)]
fn on(row: &[u8], x: usize) -> bool {
    row.get(x).is_some_and(|&v| v != 0)
}

/// Lays the bands' union-finds end to end: band `b`'s local label `l` becomes `offsets[b] + l`.
fn concatenate(bands: Vec<UnionFind>) -> (UnionFind, Vec<u32>) {
    let total = bands.iter().map(|u| u.parent.len() - 1).sum::<usize>();
    let mut parent = Vec::with_capacity(total + 1);
    parent.push(0);
    let mut offsets = Vec::with_capacity(bands.len());
    for uf in bands {
        let off = (parent.len() - 1) as u32;
        offsets.push(off);
        parent.extend(uf.parent[1..].iter().map(|&p| p + off));
    }
    (UnionFind { parent }, offsets)
}

/// Per band, the final number of each band-local label (entry 0 background), from the global
/// `number` table of `total` labels laid out at `offsets`: a lookup with no zero test, which
/// mispredicts on noisy masks.
fn band_tables(number: &[u32], offsets: &[u32], total: u32) -> Vec<Vec<u32>> {
    (0..offsets.len())
        .map(|b| {
            let end = offsets.get(b + 1).copied().unwrap_or(total);
            let own = &number[offsets[b] as usize + 1..=end as usize];
            std::iter::once(0).chain(own.iter().copied()).collect()
        })
        .collect()
}

/// Global label of band-local label `l` (0 stays background).
#[inline(always)]
fn global(l: u32, offset: u32) -> usize {
    if l == 0 {
        0
    } else {
        (l + offset) as usize
    }
}

/// 4-connectivity by pixels in raster order. A component's first pixel has no labelled
/// neighbour in it, so it creates the component's smallest label: numbering the roots in label
/// order is numbering by first pixel. Provisional labels live in the output buffer.
fn label4(mask: &[u8], w: usize, h: usize, bands: usize) -> (Vec<i32>, u32) {
    let bands = split(h, bands);
    let mut out = output_vec::<i32>(w * h);
    let ufs: Vec<UnionFind> = band_slices(&mut out, w, &bands)
        .into_par_iter()
        .zip(bands.par_iter())
        .map(|(part, rows)| scan4(&mask[rows.start * w..rows.end * w], w, part))
        .collect();
    let (mut uf, offsets) = concatenate(ufs);
    for (b, rows) in bands.iter().enumerate().skip(1) {
        let y = rows.start;
        let (above, below) = (&out[(y - 1) * w..y * w], &out[y * w..(y + 1) * w]);
        for (&u, &l) in above.iter().zip(below) {
            if u != 0 && l != 0 {
                uf.merge(
                    global(u as u32, offsets[b - 1]) as u32,
                    global(l as u32, offsets[b]) as u32,
                );
            }
        }
    }
    let total = uf.parent.len() as u32 - 1;
    let (number, count) = uf.numbering();
    let tables = band_tables(&number, &offsets, total);
    let parts = band_slices(&mut out, w, &bands);
    parts
        .into_par_iter()
        .zip(tables.par_iter())
        .for_each(|(part, table)| {
            for l in part.iter_mut() {
                *l = table[*l as usize] as i32;
            }
        });
    (out, count)
}

/// Scans the rows of one band (`mask` and `out` hold just them) into band-local labels.
fn scan4(mask: &[u8], w: usize, out: &mut [i32]) -> UnionFind {
    let mut uf = UnionFind::new();
    for y in 0..mask.len() / w {
        let (done, rest) = out.split_at_mut(y * w);
        let up = if y > 0 { &done[(y - 1) * w..] } else { &[][..] };
        let row = &mut rest[..w];
        let m = &mask[y * w..(y + 1) * w];
        let mut left = 0u32;
        for x in 0..w {
            let l = if m[x] == 0 {
                0
            } else {
                let u = up.get(x).map_or(0, |&u| u as u32);
                match (u, left) {
                    (0, 0) => uf.make(),
                    (u, 0) => u,
                    (0, l) => l,
                    (u, l) => uf.merge(u, l),
                }
            };
            row[x] = l as i32;
            left = l;
        }
    }
    uf
}

/// 8-connectivity by 2×2 blocks in block-raster order (the blocks of OpenCV's BBDT/Spaghetti):
/// the foreground pixels of a block are all 8-connected, so labels belong to blocks, and a
/// component's first block creates its smallest label.
fn label8(mask: &[u8], w: usize, h: usize, bands: usize) -> (Vec<i32>, u32) {
    let (bw, bh) = (w.div_ceil(2), h.div_ceil(2));
    let bands = split(bh, bands);
    let mut blocks = reused_blocks(bw * bh);
    let ufs: Vec<UnionFind> = band_slices(&mut blocks, bw, &bands)
        .into_par_iter()
        .zip(bands.par_iter())
        .map(|(part, rows)| scan8(mask, w, h, rows.clone(), part))
        .collect();
    let (mut uf, offsets) = concatenate(ufs);
    let row = |y: usize| {
        if y < h {
            &mask[y * w..(y + 1) * w]
        } else {
            &[][..]
        }
    };
    for (b, rows) in bands.iter().enumerate().skip(1) {
        let by = rows.start;
        let (r0, rp) = (row(2 * by), row(2 * by - 1));
        let (up, cur) = (
            &blocks[(by - 1) * bw..by * bw],
            &blocks[by * bw..(by + 1) * bw],
        );
        let (off_up, off) = (offsets[b - 1], offsets[b]);
        for bx in 0..bw {
            if cur[bx] == 0 {
                continue;
            }
            let x = 2 * bx;
            let (a, bb) = (on(r0, x), on(r0, x + 1));
            let me = global(cur[bx], off) as u32;
            let mut join = |l: u32| uf.merge(me, global(l, off_up) as u32);
            if (a || bb) && (on(rp, x) || on(rp, x + 1)) {
                join(up[bx]);
            }
            if bx > 0 && a && on(rp, x - 1) {
                join(up[bx - 1]);
            }
            if bb && on(rp, x + 2) {
                join(up[bx + 1]);
            }
        }
    }
    let total = uf.parent.len() as u32 - 1;
    let (number, count) = uf.numbering();
    // Each band looks its labels up in its own table, once per block, in the pass that writes
    // the block's pixels.
    let tables = band_tables(&number, &offsets, total);
    let mut out = output_vec::<i32>(w * h);
    let pixel_bands: Vec<Range<usize>> = bands
        .iter()
        .map(|r| 2 * r.start..(2 * r.end).min(h))
        .collect();
    let isa = Isa::active();
    band_slices(&mut out, w, &pixel_bands)
        .into_par_iter()
        .zip(pixel_bands.par_iter().zip(&bands))
        .zip(tables.par_iter())
        .for_each(|((out, (rows, block_rows)), table)| {
            let blocks = &blocks[block_rows.start * bw..block_rows.end * bw];
            let mask = &mask[rows.start * w..rows.end * w];
            PixelPass {
                out,
                mask,
                blocks,
                table,
                w,
            }
            .run_at(isa);
        });
    BLOCKS.set(blocks);
    (out, count)
}

thread_local! {
    /// The last block map [`label8`] used on this thread, kept for the next call: a fresh one
    /// (16 MiB for a 4096² mask) costs ~1.6 ms of page clearing, 5 % of the call.
    static BLOCKS: std::cell::Cell<Vec<u32>> = const { std::cell::Cell::new(Vec::new()) };
}

/// A block map of `n` blocks: the kept one when its size fits, else a new one. Its values are
/// stale: [`scan8`] writes every block before reading it (debug builds fill it with a value
/// no label takes, so the tests would see a block read before it is written).
fn reused_blocks(n: usize) -> Vec<u32> {
    let mut blocks = BLOCKS.take();
    if blocks.len() != n {
        blocks = vec![0; n];
    }
    if cfg!(debug_assertions) {
        blocks.fill(u32::MAX);
    }
    blocks
}

/// What a block does, from the 10 pixels around it (see [`block_actions`]).
const FOREGROUND: u8 = 1;
const JOIN_UP: u8 = 2;
const JOIN_LEFT: u8 = 4;
const JOIN_UP_LEFT: u8 = 8;
const JOIN_UP_RIGHT: u8 = 16;

/// The action of a 2×2 block at columns x, x+1 for each pattern of the pixels that decide it:
/// bits 0-2 are column x-1, bits 3-5 column x, bits 6-8 column x+1 (each: row above the block,
/// block's top row, block's bottom row) and bit 9 the row above at x+2. A neighbour block
/// touches this one only through the pixels facing it.
const fn block_actions() -> [u8; 1024] {
    let mut table = [0u8; 1024];
    let mut i = 0;
    while i < 1024 {
        let (left_up, left0, left1) = (i & 1 == 1, (i >> 1) & 1 == 1, (i >> 2) & 1 == 1);
        let (up0, a, c) = ((i >> 3) & 1 == 1, (i >> 4) & 1 == 1, (i >> 5) & 1 == 1);
        let (up1, b, d) = ((i >> 6) & 1 == 1, (i >> 7) & 1 == 1, (i >> 8) & 1 == 1);
        let up2 = (i >> 9) & 1 == 1;
        let mut act = 0;
        if a || b || c || d {
            act |= FOREGROUND;
            if (a || b) && (up0 || up1) {
                act |= JOIN_UP;
            }
            if (a || c) && (left0 || left1) {
                act |= JOIN_LEFT;
            }
            if a && left_up {
                act |= JOIN_UP_LEFT;
            }
            if b && up2 {
                act |= JOIN_UP_RIGHT;
            }
        }
        table[i] = act;
        i += 1;
    }
    table
}

const BLOCK_ACTIONS: [u8; 1024] = block_actions();

/// Scans block rows `rows` (their slice of the block map is `blocks`) into band-local labels;
/// neighbours above the band are left to the merge.
fn scan8(mask: &[u8], w: usize, h: usize, rows: Range<usize>, blocks: &mut [u32]) -> UnionFind {
    let bw = w.div_ceil(2);
    // Missing rows (above the band, below the image) read as background.
    let zeros = vec![0u8; w];
    let row = |y: usize| {
        if y < h {
            &mask[y * w..(y + 1) * w]
        } else {
            &zeros[..]
        }
    };
    // Column bits of the rows around one block row: entry x + 1 is column x (bit 0 the row
    // above, 1 the top row, 2 the bottom row); zero beyond both ends.
    let mut columns = vec![0u8; w + 4];
    let mut uf = UnionFind::new();
    for (i, by) in rows.clone().enumerate() {
        let (r0, r1) = (row(2 * by), row(2 * by + 1));
        let rp = if i > 0 { row(2 * by - 1) } else { &zeros[..] };
        for (((col, &p), &t), &b) in columns[1..=w].iter_mut().zip(rp).zip(r0).zip(r1) {
            *col = u8::from(p != 0) | u8::from(t != 0) << 1 | u8::from(b != 0) << 2;
        }
        let (done, rest) = blocks.split_at_mut(i * bw);
        let up = if i > 0 {
            &done[(i - 1) * bw..]
        } else {
            &[][..]
        };
        let cur = &mut rest[..bw];
        // The left block's label, kept in a register: reloading it from `cur` puts a
        // store-to-load forwarding delay on the chain from block to block.
        let mut left = 0;
        let mut bx = 0;
        while bx < bw {
            // Inside a blob: the blocks take the left label (the scan would give them labels
            // of its set, all numbered alike at the end). Only where the blocks above carry
            // that same label (branch-free test): otherwise the plain scan's joins would
            // have to walk the union-find after the run (measured 2 % slower). The set row
            // above means this is not the band's first row, so `up` is there.
            if bx > 0
                && bx + RUN <= bw
                && inside_blob(&columns[2 * bx..])
                && up[bx..bx + RUN]
                    .iter()
                    .fold(true, |all, &u| all & (u == left))
            {
                cur[bx..bx + RUN].fill(left);
                bx += RUN;
                continue;
            }
            // Columns x - 1 .. x + 2 in one load, each in its own byte.
            let q = u32::from_le_bytes(columns[2 * bx..2 * bx + 4].try_into().expect("4 bytes"));
            let pattern =
                (q & 7 | (q >> 5) & (7 << 3) | (q >> 10) & (7 << 6) | (q >> 15) & (1 << 9))
                    as usize;
            let act = BLOCK_ACTIONS[pattern];
            let mut l = 0;
            if act != 0 {
                if act & JOIN_LEFT != 0 {
                    l = left;
                }
                if act & JOIN_UP != 0 {
                    l = uf.join(l, up[bx]);
                }
                if act & JOIN_UP_LEFT != 0 {
                    l = uf.join(l, up[bx - 1]);
                }
                if act & JOIN_UP_RIGHT != 0 {
                    l = uf.join(l, up[bx + 1]);
                }
                if l == 0 {
                    l = uf.make();
                }
            }
            left = l;
            cur[bx] = l;
            bx += 1;
        }
    }
    uf
}

/// Blocks [`scan8`] skips at once inside a blob.
const RUN: usize = 8;

/// Whether the [`RUN`] blocks from column x on (`columns` from entry x: column x - 1 on) lie
/// inside a blob already joined to the left block, so that the scan would record no new join
/// for any of them and give each a label of the left block's set: the columns from x - 1 to
/// x + 2·RUN - 1 all set in the row above and in both block rows. Then the left block joined
/// the block above it, the blocks above the run (and the one above-right of it, if it touches
/// the last block) are joined to that one through the set row above, and every block joins
/// its left neighbour. Branch-free, so a failed test costs little.
#[inline(always)]
fn inside_blob(columns: &[u8]) -> bool {
    const SET: u64 = 0x0707_0707_0707_0707;
    let word = |i: usize| u64::from_le_bytes(columns[i..i + 8].try_into().expect("8 bytes"));
    (word(0) == SET) & (word(8) == SET) & (columns[2 * RUN] == 7)
}

/// Union-find over provisional labels whose roots are always the smallest label of their set
/// (so parents precede children and one forward sweep flattens it). Label 0 is background.
#[derive(Debug)]
struct UnionFind {
    parent: Vec<u32>,
}

impl UnionFind {
    fn new() -> UnionFind {
        UnionFind { parent: vec![0] }
    }

    fn make(&mut self) -> u32 {
        let l = self.parent.len() as u32;
        self.parent.push(l);
        l
    }

    fn find(&mut self, mut x: u32) -> u32 {
        while self.parent[x as usize] != x {
            let g = self.parent[self.parent[x as usize] as usize];
            self.parent[x as usize] = g;
            x = g;
        }
        x
    }

    /// `m` when nothing is held yet (`l` = 0), else the root of `l` and `m` joined; equal
    /// labels (the common case inside a blob) need no union-find work.
    #[inline(always)]
    fn join(&mut self, l: u32, m: u32) -> u32 {
        if l == 0 || l == m {
            m
        } else {
            self.merge(l, m)
        }
    }

    /// Joins the sets of `a` and `b` under the smaller root; returns that root.
    fn merge(&mut self, a: u32, b: u32) -> u32 {
        if a == b {
            return a;
        }
        let (ra, rb) = (self.find(a), self.find(b));
        let (lo, hi) = if ra < rb { (ra, rb) } else { (rb, ra) };
        self.parent[hi as usize] = lo;
        lo
    }

    /// Final label of every provisional label: roots numbered 1.. in label order. Returns the
    /// table (the parent array, rewritten in place) and the count including background.
    fn numbering(mut self) -> (Vec<u32>, u32) {
        let mut next = 1u32;
        for l in 1..self.parent.len() {
            let p = self.parent[l] as usize;
            // A non-root's parent is a smaller label, already rewritten to its root's number.
            self.parent[l] = if p == l {
                next += 1;
                next - 1
            } else {
                self.parent[p]
            };
        }
        (self.parent, next)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::VecDeque;

    /// Flood fill from each unlabelled foreground pixel in raster order, then renumbering by
    /// the rule: 8-connectivity by the smallest (block row, block col) of any pixel, 4 by the
    /// first pixel (already raster order).
    fn naive(mask: &[u8], w: usize, h: usize, eight: bool) -> (Vec<i32>, u32) {
        let mut lab = vec![0i32; w * h];
        let mut n = 0;
        for start in 0..w * h {
            if mask[start] == 0 || lab[start] != 0 {
                continue;
            }
            n += 1;
            lab[start] = n;
            let mut q = VecDeque::from([start]);
            while let Some(i) = q.pop_front() {
                let (y, x) = ((i / w) as isize, (i % w) as isize);
                for dy in -1isize..=1 {
                    for dx in -1isize..=1 {
                        if (dy, dx) == (0, 0) || (!eight && dy != 0 && dx != 0) {
                            continue;
                        }
                        let (ny, nx) = (y + dy, x + dx);
                        if ny < 0 || nx < 0 || ny >= h as isize || nx >= w as isize {
                            continue;
                        }
                        let j = ny as usize * w + nx as usize;
                        if mask[j] != 0 && lab[j] == 0 {
                            lab[j] = n;
                            q.push_back(j);
                        }
                    }
                }
            }
        }
        if eight {
            let mut first = vec![(usize::MAX, usize::MAX); n as usize + 1];
            for (i, &l) in lab.iter().enumerate() {
                let key = ((i / w) / 2, (i % w) / 2);
                let f = &mut first[l as usize];
                *f = (*f).min(key);
            }
            let mut order: Vec<i32> = (1..=n).collect();
            order.sort_by_key(|&l| first[l as usize]);
            let mut remap = vec![0i32; n as usize + 1];
            for (k, &l) in order.iter().enumerate() {
                remap[l as usize] = k as i32 + 1;
            }
            for l in &mut lab {
                *l = remap[*l as usize];
            }
        }
        (lab, n as u32 + 1)
    }

    fn mask_image(w: usize, h: usize, v: &[u8]) -> Image {
        Image::new(w, h, 1, PixelData::U8(v.to_vec())).unwrap()
    }

    /// Labels `mask` split into 1 to `max_bands` bands and checks each against flood fill;
    /// returns flood fill's count. `case` names the mask in a failure.
    fn check_bands(
        mask: &[u8],
        w: usize,
        h: usize,
        eight: bool,
        max_bands: usize,
        case: &str,
    ) -> u32 {
        let (want, wn) = naive(mask, w, h, eight);
        for bands in 1..=max_bands {
            let (got, gn) = label_in_bands(mask, w, h, eight, bands);
            assert_eq!((gn, &got), (wn, &want), "{case}, 8:{eight}, {bands} bands");
        }
        wn
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(500))]

        #[test]
        fn matches_flood_fill(
            (w, h, mask) in (1usize..40, 1usize..40, 1u32..10).prop_flat_map(|(w, h, density)| {
                // density/10 of the pixels set, as 0 or any nonzero value.
                let px = (0u32..10, 1u8..=255)
                    .prop_map(move |(r, v)| if r < density { v } else { 0 });
                (Just(w), Just(h), proptest::collection::vec(px, w * h))
            }),
            eight in any::<bool>(),
        ) {
            let conn = if eight { 8 } else { 4 };
            let (img, n) = connected_components(&mask_image(w, h, &mask), conn).unwrap();
            let (want, wn) = naive(&mask, w, h, eight);
            prop_assert_eq!(n, wn);
            prop_assert_eq!(img.data, PixelData::I32(want.clone()));
            // The same with the scan split into bands that are merged afterwards.
            let rows = if eight { h.div_ceil(2) } else { h };
            for bands in 2..=rows.min(5) {
                let (got, gn) = label_in_bands(&mask, w, h, eight, bands);
                prop_assert_eq!(gn, wn, "{} bands", bands);
                prop_assert_eq!(&got, &want, "{} bands", bands);
            }
        }
    }

    #[test]
    fn skipped_runs_keep_diagonal_joins() {
        // A bar two rows high under a bar one row high, and a vertical bar that touches them
        // only diagonally, above-right of the lower bar's last pixel: at every offset and
        // length, so that the scan's skipped runs end at every column around that corner.
        let (w, h) = (72, 8);
        for start in 0..20 {
            for len in 14..44 {
                let mut mask = vec![0u8; w * h];
                let set = |mask: &mut Vec<u8>, y: usize, xs: Range<usize>| {
                    mask[y * w + xs.start..y * w + xs.end].fill(1)
                };
                set(&mut mask, 3, start..start + len);
                set(&mut mask, 4, start..start + len + 1);
                set(&mut mask, 5, start..start + len + 1);
                for y in 0..=3 {
                    set(&mut mask, y, start + len + 1..start + len + 2);
                }
                let case = format!("start {start}, len {len}");
                let count = check_bands(&mask, w, h, true, 2, &case);
                assert_eq!(count, 2, "one component and background");
            }
        }
    }

    #[test]
    fn blob_masks_match_flood_fill() {
        // Large filled rectangles and rings, overlapping or not: long runs of blocks inside a
        // blob (the scan's skip), blobs that meet only below a run, holes, one-pixel gaps.
        let mut next = crate::test_rng::lcg(0x9e37_79b9_7f4a_7c15);
        for (w, h) in [(300, 90), (157, 61), (64, 40)] {
            for _ in 0..40 {
                let mut mask = vec![0u8; w * h];
                for _ in 0..(3 + next() % 6) {
                    let (x0, y0) = (next() as usize % w, next() as usize % h);
                    let (x1, y1) = (
                        (x0 + 1 + next() as usize % w).min(w),
                        (y0 + 1 + next() as usize % (h / 2)).min(h),
                    );
                    let ring = next() % 3 == 0;
                    for y in y0..y1 {
                        for x in x0..x1 {
                            let edge = y < y0 + 2 || y + 2 >= y1 || x < x0 + 2 || x + 2 >= x1;
                            if !ring || edge {
                                mask[y * w + x] = 255;
                            }
                        }
                    }
                }
                // Rows of long runs, each row the one above with a few runs moved: long
                // stretches inside blobs that end or split at any column, in any row.
                let y0 = next() as usize % h;
                for y in y0..(y0 + h / 3).min(h) {
                    for _ in 0..3 {
                        let (x, len) = (next() as usize % w, 1 + next() as usize % 24);
                        let v = if next() % 2 == 0 { 255 } else { 0 };
                        mask[y * w + x..(y * w + x + len).min((y + 1) * w)].fill(v);
                    }
                    if y + 1 < h {
                        let (row, below) = mask.split_at_mut((y + 1) * w);
                        below[..w].copy_from_slice(&row[y * w..]);
                    }
                }
                // Lone pixels set and cleared (on and off the blobs' edges), and one-column
                // cuts inside the blobs.
                for _ in 0..w * h / 50 {
                    mask[next() as usize % (w * h)] = if next() % 2 == 0 { 255 } else { 0 };
                }
                for _ in 0..4 {
                    mask[next() as usize % (w * h)] = 0;
                    let x = next() as usize % w;
                    for y in 0..h / 3 {
                        mask[y * w + x] = 0;
                    }
                }
                check_bands(&mask, w, h, true, 4, &format!("{w}x{h}"));
            }
        }
    }

    #[test]
    fn wide_masks_match_flood_fill() {
        // Rows long enough for the vector loops of the pixel pass at every ISA level (odd
        // widths and heights leave a last column and a last single row), sparse to dense.
        let mut next = crate::test_rng::lcg(0x2545_f491_4f6c_dd1d);
        for (w, h) in [(301usize, 7usize), (1001, 9), (64, 3), (257, 1)] {
            for density in [1, 5, 9] {
                let mask: Vec<u8> = (0..w * h)
                    .map(|_| if next() % 10 < density { 255 } else { 0 })
                    .collect();
                for eight in [true, false] {
                    let bands = h.div_ceil(2).min(3);
                    check_bands(&mask, w, h, eight, bands, &format!("{w}x{h} d{density}"));
                }
            }
        }
    }

    #[test]
    fn block_order_differs_from_raster_order() {
        // . . . X
        // X . . .
        // Raster order meets (3,0) first; block order meets block (0,0), holding (0,1), first.
        let m = [0, 0, 0, 1, 1, 0, 0, 0];
        let (l8, n8) = connected_components(&mask_image(4, 2, &m), 8).unwrap();
        assert_eq!(n8, 3);
        assert_eq!(l8.data, PixelData::I32(vec![0, 0, 0, 2, 1, 0, 0, 0]));
        let (l4, n4) = connected_components(&mask_image(4, 2, &m), 4).unwrap();
        assert_eq!(n4, 3);
        assert_eq!(l4.data, PixelData::I32(vec![0, 0, 0, 1, 2, 0, 0, 0]));
    }

    #[test]
    fn diagonal_joins_only_with_eight() {
        // X .
        // . X
        let m = [9, 0, 0, 9];
        let (l8, n8) = connected_components(&mask_image(2, 2, &m), 8).unwrap();
        assert_eq!((n8, l8.data), (2, PixelData::I32(vec![1, 0, 0, 1])));
        let (l4, n4) = connected_components(&mask_image(2, 2, &m), 4).unwrap();
        assert_eq!((n4, l4.data), (3, PixelData::I32(vec![1, 0, 0, 2])));
        // A U shape whose arms meet only at the bottom: one label, found late.
        let u = [1, 0, 1, 1, 0, 1, 1, 1, 1];
        let (l, n) = connected_components(&mask_image(3, 3, &u), 4).unwrap();
        assert_eq!(
            (n, l.data),
            (2, PixelData::I32(vec![1, 0, 1, 1, 0, 1, 1, 1, 1]))
        );
    }

    #[test]
    fn rejects_bad_input() {
        let m = mask_image(2, 2, &[0; 4]);
        let e = connected_components(&m, 6).unwrap_err();
        assert!(e.message.contains("connected_components") && e.message.contains('6'));
        let rgb = Image::zeros(2, 2, 3, DType::U8);
        assert!(connected_components(&rgb, 8).is_err());
        let (l, n) = connected_components(&m, 8).unwrap();
        assert_eq!((n, l.data), (1, PixelData::I32(vec![0; 4])));
    }
}

//! Connected components: OpenCV `connectedComponents` with its label numbering.
//!
//! Two passes: a scan in OpenCV's numbering order (pixels for 4-connectivity, 2×2 blocks for 8)
//! that gives provisional labels and records equivalences in a union-find whose roots are the
//! smallest label of their set, then a pass writing each pixel its root's rank.

use yam_plugin_api::{DType, Image, PixelData, PluginError};

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
    if eight {
        label8(mask, w, h)
    } else {
        label4(mask, w, h)
    }
}

/// 4-connectivity by pixels in raster order. A component's first pixel has no labelled
/// neighbour in it, so it creates the component's smallest label: numbering the roots in label
/// order is numbering by first pixel.
fn label4(mask: &[u8], w: usize, h: usize) -> (Vec<i32>, u32) {
    let mut uf = UnionFind::new();
    let mut prov = vec![0u32; w * h];
    for y in 0..h {
        for x in 0..w {
            let i = y * w + x;
            if mask[i] == 0 {
                continue;
            }
            let up = if y > 0 { prov[i - w] } else { 0 };
            let left = if x > 0 { prov[i - 1] } else { 0 };
            prov[i] = match (up, left) {
                (0, 0) => uf.make(),
                (u, 0) => u,
                (0, l) => l,
                (u, l) => uf.merge(u, l),
            };
        }
    }
    let (number, count) = uf.numbering();
    (prov.iter().map(|&l| number[l as usize]).collect(), count)
}

/// 8-connectivity by 2×2 blocks in block-raster order (the blocks of OpenCV's BBDT/Spaghetti):
/// the foreground pixels of a block are all 8-connected, so labels belong to blocks, and a
/// component's first block creates its smallest label.
fn label8(mask: &[u8], w: usize, h: usize) -> (Vec<i32>, u32) {
    let (bw, bh) = (w.div_ceil(2), h.div_ceil(2));
    let on = |x: usize, y: usize| x < w && y < h && mask[y * w + x] != 0;
    let mut uf = UnionFind::new();
    let mut blocks = vec![0u32; bw * bh];
    for by in 0..bh {
        for bx in 0..bw {
            let (x, y) = (2 * bx, 2 * by);
            let (a, b, c, d) = (on(x, y), on(x + 1, y), on(x, y + 1), on(x + 1, y + 1));
            if !(a || b || c || d) {
                continue;
            }
            let bi = by * bw + bx;
            let mut l = 0;
            let mut join = |m: u32, uf: &mut UnionFind| {
                l = if l == 0 { m } else { uf.merge(l, m) };
            };
            // Neighbour blocks touch this one only through the pixels facing it.
            if by > 0 && (a || b) && (on(x, y - 1) || on(x + 1, y - 1)) {
                join(blocks[bi - bw], &mut uf);
            }
            if bx > 0 && (a || c) && (on(x - 1, y) || on(x - 1, y + 1)) {
                join(blocks[bi - 1], &mut uf);
            }
            if by > 0 && bx > 0 && a && on(x - 1, y - 1) {
                join(blocks[bi - bw - 1], &mut uf);
            }
            if by > 0 && b && on(x + 2, y - 1) {
                join(blocks[bi - bw + 1], &mut uf);
            }
            blocks[bi] = if l == 0 { uf.make() } else { l };
        }
    }
    let (number, count) = uf.numbering();
    let mut out = vec![0i32; w * h];
    for (y, row) in out.chunks_mut(w.max(1)).enumerate() {
        let brow = &blocks[(y / 2) * bw..(y / 2 + 1) * bw];
        let mrow = &mask[y * w..(y + 1) * w];
        for (x, (o, &m)) in row.iter_mut().zip(mrow).enumerate() {
            // Branch-free: on noisy masks a branch here mispredicts half the time.
            *o = number[brow[x / 2] as usize] * i32::from(m != 0);
        }
    }
    (out, count)
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
    /// table and the count including background.
    fn numbering(mut self) -> (Vec<i32>, u32) {
        let mut number = vec![0i32; self.parent.len()];
        let mut next = 1i32;
        for l in 1..self.parent.len() {
            let p = self.parent[self.parent[l] as usize];
            self.parent[l] = p;
            number[l] = if p as usize == l {
                next += 1;
                next - 1
            } else {
                number[p as usize]
            };
        }
        (number, next as u32)
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
            prop_assert_eq!(img.data, PixelData::I32(want));
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

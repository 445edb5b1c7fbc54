//! The kernel sources (CUDA C++, which HIP compiles unchanged), embedded from
//! `plugin-api/kernels/`,, and every variant (source + defines)
//! the backend ever compiles. The executor refuses a variant missing from [`variants`], so
//! the NVRTC compile check in CI, which compiles exactly that list, covers everything that
//! can run on a GPU.

use crate::DType;

/// Declarations shared by every program (types, border mapping, strided views).
pub const COMMON: &str = include_str!("../../kernels/common.cuh");

/// One CUDA program source.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Source {
    /// Separable correlation: Gaussian, box, Sobel.
    Separable,
    /// Erosion, dilation, differences.
    Morph,
    /// Median filters.
    Median,
    /// Thresholds and histograms.
    Threshold,
    /// Connected components and the prefix sum they use.
    Labeling,
}

impl Source {
    /// Every source.
    pub const ALL: [Source; 5] = [
        Source::Separable,
        Source::Morph,
        Source::Median,
        Source::Threshold,
        Source::Labeling,
    ];

    /// Short name (file stem).
    pub fn name(self) -> &'static str {
        match self {
            Source::Separable => "separable",
            Source::Morph => "morph",
            Source::Median => "median",
            Source::Threshold => "threshold",
            Source::Labeling => "labeling",
        }
    }

    /// The program text without [`COMMON`].
    pub fn text(self) -> &'static str {
        match self {
            Source::Separable => include_str!("../../kernels/separable.cu"),
            Source::Morph => include_str!("../../kernels/morph.cu"),
            Source::Median => include_str!("../../kernels/median.cu"),
            Source::Threshold => include_str!("../../kernels/threshold.cu"),
            Source::Labeling => include_str!("../../kernels/labeling.cu"),
        }
    }

    /// [`COMMON`] followed by the program.
    pub fn full_text(self) -> String {
        format!("{COMMON}\n{}", self.text())
    }
}

/// The kernel-side name of an element type (typedefs of `common.cuh`).
pub fn type_name(dtype: DType) -> &'static str {
    match dtype {
        DType::U8 => "u8",
        DType::U16 => "u16",
        DType::I16 => "i16",
        DType::I32 => "i32",
        DType::F32 => "f32",
    }
}

/// Defines of the per-type programs (morph, median, threshold, labeling).
pub fn type_defines(dtype: DType) -> String {
    format!(
        "-DT={} -DT_FLOAT={}",
        type_name(dtype),
        u8::from(dtype == DType::F32)
    )
}

/// Types of one separable pass: input, row sums, column sums, output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SepTypes {
    /// Input element type.
    pub t: &'static str,
    /// Row sums and row taps.
    pub h: &'static str,
    /// Column sums and column taps.
    pub v: &'static str,
    /// Output element type.
    pub o: &'static str,
}

impl SepTypes {
    /// Defines of `separable.cu`.
    pub fn defines(&self) -> String {
        format!(
            "-DT={} -DH={} -DV={} -DO={} -DO_FLOAT={}",
            self.t,
            self.h,
            self.v,
            self.o,
            u8::from(self.o == "f32")
        )
    }
}

/// Every separable type combination the ops use.
pub const SEPARABLE: &[SepTypes] = &[
    // Gaussian u8 / u16 (OpenCV's fixed point), box u8 / u16.
    sep("u8", "u32", "u32", "u8"),
    sep("u16", "u32", "u64", "u16"),
    sep("u16", "u32", "u32", "u16"),
    // Gaussian on f32 (f32 sums, as the CPU backend's).
    sep("f32", "f32", "f32", "f32"),
    // Box and Sobel on f32.
    sep("f32", "f64", "f64", "f32"),
    // Sobel u8 -> i16 / f32, u16 -> f32.
    sep("u8", "i32", "i32", "i16"),
    sep("u8", "i32", "i32", "f32"),
    sep("u16", "i32", "i32", "f32"),
    // Adaptive threshold's Gaussian mean.
    sep("u8", "f64", "f64", "u8"),
];

const fn sep(t: &'static str, h: &'static str, v: &'static str, o: &'static str) -> SepTypes {
    SepTypes { t, h, v, o }
}

/// Every (source, defines) pair the backend compiles.
pub fn variants() -> Vec<(Source, String)> {
    let mut out: Vec<(Source, String)> = SEPARABLE
        .iter()
        .map(|s| (Source::Separable, s.defines()))
        .collect();
    for src in [Source::Morph, Source::Median, Source::Threshold] {
        for dtype in [DType::U8, DType::U16, DType::F32] {
            out.push((src, type_defines(dtype)));
        }
    }
    out.push((Source::Labeling, type_defines(DType::U8)));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_source_has_kernels_and_the_common_header() {
        for s in Source::ALL {
            assert!(s.text().contains("KERNEL void"), "{}", s.name());
            assert!(s.full_text().starts_with(COMMON));
        }
    }

    #[test]
    fn variants_are_distinct_and_cover_every_source() {
        let v = variants();
        let mut sorted = v.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(sorted.len(), v.len(), "duplicate variants");
        for s in Source::ALL {
            assert!(
                v.iter().any(|(src, _)| *src == s),
                "{} never compiled",
                s.name()
            );
        }
    }
}

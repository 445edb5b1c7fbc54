//! The OpenCL C sources, embedded from `kernels/*.cl` and indexed by [`Source`].

/// Declarations shared by every program (border mapping, strided views, `real`).
pub const COMMON: &str = include_str!("../kernels/common.cl");

/// One OpenCL program source.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Source {
    /// Separable correlation: Gaussian, box, Sobel.
    Separable,
    /// Erosion, dilation, differences.
    Morph,
    /// Median filters.
    Median,
    /// Thresholds and histograms.
    Threshold,
}

impl Source {
    /// Every source, for tests and warm-up.
    pub const ALL: [Source; 4] = [
        Source::Separable,
        Source::Morph,
        Source::Median,
        Source::Threshold,
    ];

    /// Short name (file stem).
    pub fn name(self) -> &'static str {
        match self {
            Source::Separable => "separable",
            Source::Morph => "morph",
            Source::Median => "median",
            Source::Threshold => "threshold",
        }
    }

    /// The program text without [`COMMON`].
    pub fn text(self) -> &'static str {
        match self {
            Source::Separable => include_str!("../kernels/separable.cl"),
            Source::Morph => include_str!("../kernels/morph.cl"),
            Source::Median => include_str!("../kernels/median.cl"),
            Source::Threshold => include_str!("../kernels/threshold.cl"),
        }
    }

    /// [`COMMON`] followed by the program.
    pub fn full_text(self) -> String {
        format!("{COMMON}\n{}", self.text())
    }
}

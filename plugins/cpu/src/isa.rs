//! Instruction-set level of the SIMD kernels: detected once at run time, overridable with
//! `YAM_CPU_ISA`.
//!
//! Kernels take an [`Isa`] explicitly (so tests can run every level in one process) and pass
//! it through [`Isa::usable`] before calling `#[target_feature]` code, which makes a level the
//! CPU lacks fall back instead of faulting. Every level runs the same kernel code on its own
//! vector width (`simd/{sse41,avx2,avx512}.rs`).

use std::fmt;
use std::sync::OnceLock;

/// Environment variable that caps the level: `scalar`, `sse4.1`, `avx2` or `avx512`.
pub const ENV_VAR: &str = "YAM_CPU_ISA";

/// A SIMD level, each including the ones before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Isa {
    /// Portable Rust, no explicit SIMD.
    Scalar,
    /// SSE4.1 (128-bit).
    Sse41,
    /// AVX2 (256-bit).
    Avx2,
    /// AVX-512 F + BW + VL (512-bit).
    Avx512,
}

impl Isa {
    /// Every level, lowest first.
    pub const ALL: [Isa; 4] = [Isa::Scalar, Isa::Sse41, Isa::Avx2, Isa::Avx512];

    /// The name `YAM_CPU_ISA` takes.
    pub fn name(self) -> &'static str {
        match self {
            Isa::Scalar => "scalar",
            Isa::Sse41 => "sse4.1",
            Isa::Avx2 => "avx2",
            Isa::Avx512 => "avx512",
        }
    }

    /// Parses a level name (case-insensitive; `sse41` and `sse4_1` also name SSE4.1).
    pub fn parse(s: &str) -> Option<Isa> {
        match s.trim().to_ascii_lowercase().as_str() {
            "scalar" | "none" => Some(Isa::Scalar),
            "sse4.1" | "sse41" | "sse4_1" => Some(Isa::Sse41),
            "avx2" => Some(Isa::Avx2),
            "avx512" => Some(Isa::Avx512),
            _ => None,
        }
    }

    /// The highest level this CPU supports, detected once.
    pub fn detected() -> Isa {
        static DETECTED: OnceLock<Isa> = OnceLock::new();
        *DETECTED.get_or_init(|| Features::of_this_cpu().best())
    }

    /// `self`, or the highest supported level below it: the level a kernel may really run.
    pub fn usable(self) -> Isa {
        self.min(Isa::detected())
    }

    /// Levels this CPU can run, lowest first (what tests iterate over).
    pub fn available() -> impl Iterator<Item = Isa> {
        Isa::ALL.into_iter().filter(|i| *i <= Isa::detected())
    }

    /// The level kernels use by default: the detected one, capped by `YAM_CPU_ISA`.
    pub fn active() -> Isa {
        selection().isa
    }
}

impl fmt::Display for Isa {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// CPU features the levels need (a pure value, so the choice logic can be tested on any CPU).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Features {
    pub sse41: bool,
    pub avx2: bool,
    /// AVX-512 F, BW and VL together.
    pub avx512: bool,
}

impl Features {
    /// What this CPU has (all false off x86).
    pub fn of_this_cpu() -> Features {
        #[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
        {
            Features {
                sse41: is_x86_feature_detected!("sse4.1"),
                avx2: is_x86_feature_detected!("avx2"),
                avx512: is_x86_feature_detected!("avx512f")
                    && is_x86_feature_detected!("avx512bw")
                    && is_x86_feature_detected!("avx512vl"),
            }
        }
        #[cfg(not(any(target_arch = "x86", target_arch = "x86_64")))]
        Features::default()
    }

    /// The highest level whose features, and those of every level below, are all present.
    pub fn best(self) -> Isa {
        match (self.sse41, self.avx2, self.avx512) {
            (true, true, true) => Isa::Avx512,
            (true, true, false) => Isa::Avx2,
            (true, false, _) => Isa::Sse41,
            _ => Isa::Scalar,
        }
    }
}

/// The level chosen, and why (for diagnostics such as `yam doctor`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selection {
    /// The level kernels run at.
    pub isa: Isa,
    /// The best level the CPU supports.
    pub detected: Isa,
    /// Why `isa` differs from what was asked, if it does (unknown value, level not supported).
    pub note: Option<String>,
    /// The request could not be honoured (unknown value, or a level this CPU lacks): callers
    /// should warn the user with `note`.
    pub fallback: bool,
}

impl fmt::Display for Selection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (detected {})", self.isa, self.detected)?;
        if let Some(n) = &self.note {
            write!(f, ": {n}")?;
        }
        Ok(())
    }
}

/// Chooses the level from the value of `YAM_CPU_ISA` (`None` or empty: unset) and the
/// detected best level. Never fails: an unknown value keeps `detected`, a level above
/// `detected` is lowered to it, and either case says so in [`Selection::note`].
pub fn choose(requested: Option<&str>, detected: Isa) -> Selection {
    let requested = requested.map(str::trim).filter(|s| !s.is_empty());
    let (isa, note, fallback) = match requested {
        None => (detected, None, false),
        Some(s) => match Isa::parse(s) {
            None => (
                detected,
                Some(format!(
                    "{ENV_VAR}={s:?} is not one of scalar, sse4.1, avx2, avx512; using {detected}"
                )),
                true,
            ),
            Some(want) if want > detected => (
                detected,
                Some(format!(
                    "{ENV_VAR}={s} is not supported by this CPU; using {detected}"
                )),
                true,
            ),
            Some(want) => (want, Some(format!("capped by {ENV_VAR}={s}")), false),
        },
    };
    Selection {
        isa,
        detected,
        note,
        fallback,
    }
}

/// The process-wide choice, made once from `YAM_CPU_ISA` and the CPU.
pub fn selection() -> &'static Selection {
    static SELECTION: OnceLock<Selection> = OnceLock::new();
    SELECTION.get_or_init(|| {
        let env = std::env::var(ENV_VAR).ok();
        choose(env.as_deref(), Isa::detected())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for isa in Isa::ALL {
            assert_eq!(Isa::parse(isa.name()), Some(isa));
        }
        assert_eq!(Isa::parse(" AVX2 "), Some(Isa::Avx2));
        assert_eq!(Isa::parse("sse41"), Some(Isa::Sse41));
        assert_eq!(Isa::parse("sse4"), None);
        assert_eq!(Isa::parse("neon"), None);
    }

    #[test]
    fn levels_need_every_lower_feature() {
        let f = |sse41, avx2, avx512| {
            Features {
                sse41,
                avx2,
                avx512,
            }
            .best()
        };
        assert_eq!(f(false, false, false), Isa::Scalar);
        assert_eq!(f(true, false, false), Isa::Sse41);
        assert_eq!(f(true, true, false), Isa::Avx2);
        assert_eq!(f(true, true, true), Isa::Avx512);
        // A hole below a level disqualifies it.
        assert_eq!(f(false, true, true), Isa::Scalar);
        assert_eq!(f(true, false, true), Isa::Sse41);
    }

    #[test]
    fn env_value_caps_and_falls_back() {
        // (level, says something, could not honour the request)
        let c = |s: Option<&str>, d| {
            let sel = choose(s, d);
            (sel.isa, sel.note.is_some(), sel.fallback)
        };
        // Unset or empty: the detected level, nothing to say.
        assert_eq!(c(None, Isa::Avx2), (Isa::Avx2, false, false));
        assert_eq!(c(Some("  "), Isa::Sse41), (Isa::Sse41, false, false));
        // A lower level is honoured.
        assert_eq!(c(Some("scalar"), Isa::Avx512), (Isa::Scalar, true, false));
        assert_eq!(c(Some("sse4.1"), Isa::Avx2), (Isa::Sse41, true, false));
        assert_eq!(c(Some("avx2"), Isa::Avx2), (Isa::Avx2, true, false));
        // A level the CPU lacks: the best one below it.
        assert_eq!(c(Some("avx512"), Isa::Avx2), (Isa::Avx2, true, true));
        assert_eq!(c(Some("avx2"), Isa::Scalar), (Isa::Scalar, true, true));
        // Unknown: the detected level, with the reason.
        let sel = choose(Some("avx1024"), Isa::Sse41);
        assert_eq!(sel.isa, Isa::Sse41);
        assert!(sel.fallback);
        assert!(sel.note.unwrap().contains("avx1024"));
        assert!(choose(Some("avx512"), Isa::Avx2)
            .to_string()
            .contains("not supported"));
    }

    #[test]
    fn usable_never_exceeds_detected() {
        for isa in Isa::ALL {
            assert!(isa.usable() <= Isa::detected());
            assert!(isa.usable() <= isa);
        }
        assert!(Isa::available().any(|i| i == Isa::Scalar));
        assert!(Isa::active() <= Isa::detected());
    }
}

//! The suite's results as a human summary, JSON, and JUnit XML.

use std::collections::BTreeMap;
use std::fmt::Write;

use super::{SuiteReport, Verdict};

/// Counts per `group/kernel` row, in first-seen order.
fn rows(r: &SuiteReport) -> Vec<(String, [usize; 4])> {
    let mut order: Vec<String> = Vec::new();
    let mut counts: BTreeMap<String, [usize; 4]> = BTreeMap::new();
    for c in &r.checks {
        let key = match &c.kernel {
            Some(k) => format!("{} {k}", c.group),
            None => c.group.to_string(),
        };
        if !counts.contains_key(&key) {
            order.push(key.clone());
        }
        let slot = match c.verdict {
            Verdict::Pass => 0,
            Verdict::Fail => 1,
            Verdict::Xfail => 2,
            Verdict::Xpass => 3,
        };
        counts.entry(key).or_default()[slot] += 1;
    }
    order.into_iter().map(|k| (k.clone(), counts[&k])).collect()
}

/// The human summary.
pub fn summary(r: &SuiteReport) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "yam conformance: {} ({})", r.plugin, r.library.display());
    let _ = writeln!(
        s,
        "device: {}; seed: {} (rerun with --seed {})",
        r.device.as_deref().unwrap_or("none"),
        r.seed,
        r.seed
    );
    let _ = writeln!(s);
    for (name, [pass, fail, xfail, xpass]) in rows(r) {
        let verdict = if fail > 0 { "FAIL" } else { "ok" };
        let extra = match (xfail, xpass) {
            (0, 0) => String::new(),
            _ => format!(", {xfail} expected failures, {xpass} unexpected passes"),
        };
        let _ = writeln!(
            s,
            "  {verdict:<4} {name:<36} {pass} passed, {fail} failed{extra}"
        );
    }
    let failures: Vec<_> = r
        .checks
        .iter()
        .filter(|c| c.verdict == Verdict::Fail)
        .collect();
    if !failures.is_empty() {
        let _ = writeln!(s, "\nfailures ({}):", failures.len());
        for c in failures.iter().take(25) {
            let _ = writeln!(
                s,
                "  {}\n      {}",
                c.id,
                c.message.as_deref().unwrap_or("")
            );
        }
        if failures.len() > 25 {
            let _ = writeln!(s, "  ... and {} more (see --json)", failures.len() - 25);
        }
    }
    if !r.performance.is_empty() {
        let _ = writeln!(
            s,
            "\nperformance (informational; median of 5, transfers included):"
        );
        for p in &r.performance {
            let _ = writeln!(
                s,
                "  {:<22} {:<20} plugin {:>9.2} ms   cpu {:>9.2} ms   speed-up {:>6.2}x",
                p.kernel,
                p.input,
                p.plugin_ms,
                p.cpu_ms,
                p.cpu_ms / p.plugin_ms.max(1e-9)
            );
        }
    }
    let _ = writeln!(
        s,
        "\n{} passed, {} failed{}",
        r.count(Verdict::Pass) + r.count(Verdict::Xpass),
        r.count(Verdict::Fail),
        match r.count(Verdict::Xfail) {
            0 => String::new(),
            n => format!(", {n} expected failures"),
        }
    );
    s
}

fn xml_escape(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '&' => "&amp;".into(),
            '<' => "&lt;".into(),
            '>' => "&gt;".into(),
            '"' => "&quot;".into(),
            '\'' => "&apos;".into(),
            c if (c as u32) < 0x20 && c != '\n' && c != '\t' => " ".into(),
            c => c.to_string(),
        })
        .collect()
}

/// JUnit XML: one test suite per group and kernel, one test case per check.
pub fn junit(r: &SuiteReport) -> String {
    let mut suites: Vec<(String, Vec<&super::Check>)> = Vec::new();
    for c in &r.checks {
        let name = match &c.kernel {
            Some(k) => format!("{}.{k}", c.group),
            None => c.group.to_string(),
        };
        match suites.iter_mut().find(|(n, _)| *n == name) {
            Some((_, v)) => v.push(c),
            None => suites.push((name, vec![c])),
        }
    }
    let mut s = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        s,
        "<testsuites name=\"yam conformance {}\" tests=\"{}\" failures=\"{}\">",
        xml_escape(&r.plugin),
        r.checks.len(),
        r.count(Verdict::Fail)
    );
    for (name, checks) in suites {
        let failures = checks.iter().filter(|c| c.verdict == Verdict::Fail).count();
        let skipped = checks
            .iter()
            .filter(|c| c.verdict == Verdict::Xfail)
            .count();
        let _ = writeln!(
            s,
            "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{failures}\" skipped=\"{skipped}\">",
            xml_escape(&name),
            checks.len()
        );
        for c in checks {
            let _ = write!(
                s,
                "    <testcase classname=\"{}\" name=\"{}\"",
                xml_escape(&name),
                xml_escape(&c.id)
            );
            let msg = xml_escape(c.message.as_deref().unwrap_or(""));
            match c.verdict {
                Verdict::Pass => s.push_str("/>\n"),
                Verdict::Xpass => {
                    let _ = writeln!(s, "><system-out>{msg}</system-out></testcase>");
                }
                Verdict::Fail => {
                    let _ = writeln!(s, "><failure message=\"{msg}\">{msg}</failure></testcase>");
                }
                Verdict::Xfail => {
                    let _ = writeln!(s, "><skipped message=\"{msg}\"/></testcase>");
                }
            }
        }
        s.push_str("  </testsuite>\n");
    }
    s.push_str("</testsuites>\n");
    s
}

//! Where plugins are looked for, in order, and which names are filtered out.
//!
//! Order: `--plugin-dir` (repeatable), `YAM_PLUGIN_PATH` (colon list),
//! `$XDG_DATA_HOME/yam/plugins` (default `~/.local/share`), `<exe dir>/../lib/yam/plugins`,
//! `/usr/local/lib/yam/plugins`, `/usr/lib/yam/plugins`. Never the current directory: a relative
//! entry is resolved against it only when the user names it explicitly.

use std::path::PathBuf;

/// Where one search directory came from, for `yam plugins list` and `yam doctor`.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct SearchDir {
    /// The folder.
    pub path: PathBuf,
    /// `--plugin-dir`, `YAM_PLUGIN_PATH`, `XDG_DATA_HOME`, `exe`, `system`.
    pub origin: &'static str,
}

/// The search path for this process.
pub fn search_dirs(cli_dirs: &[PathBuf]) -> Vec<SearchDir> {
    let mut dirs: Vec<SearchDir> = Vec::new();
    let mut push = |path: PathBuf, origin: &'static str| {
        if !path.as_os_str().is_empty() && !dirs.iter().any(|d| d.path == path) {
            dirs.push(SearchDir { path, origin });
        }
    };
    for d in cli_dirs {
        push(d.clone(), "--plugin-dir");
    }
    if let Some(list) = std::env::var_os("YAM_PLUGIN_PATH") {
        for d in std::env::split_paths(&list) {
            push(d, "YAM_PLUGIN_PATH");
        }
    }
    let data_home = std::env::var_os("XDG_DATA_HOME")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/share")));
    if let Some(d) = data_home {
        push(d.join("yam/plugins"), "XDG_DATA_HOME");
    }
    if let Some(exe_dir) = std::env::current_exe()
        .ok()
        .and_then(|e| e.parent().map(PathBuf::from))
    {
        push(exe_dir.join("../lib/yam/plugins"), "exe");
    }
    push(PathBuf::from("/usr/local/lib/yam/plugins"), "system");
    push(PathBuf::from("/usr/lib/yam/plugins"), "system");
    dirs
}

/// `YAM_PLUGINS_SELECT` / `YAM_PLUGINS_DISABLE`: comma-separated name globs (`*`, `?`), as the
/// Vulkan loader's driver select/disable filters. Select keeps only matching names; disable
/// removes matching names (and wins over select).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NameFilter {
    select: Vec<String>,
    disable: Vec<String>,
}

impl NameFilter {
    /// The filter from the environment.
    pub fn from_env() -> NameFilter {
        let list = |var: &str| -> Vec<String> {
            std::env::var(var)
                .unwrap_or_default()
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(String::from)
                .collect()
        };
        NameFilter {
            select: list("YAM_PLUGINS_SELECT"),
            disable: list("YAM_PLUGINS_DISABLE"),
        }
    }

    /// `None` when `name` passes, else the reason it is filtered out.
    pub fn excludes(&self, name: &str) -> Option<String> {
        if let Some(g) = self.disable.iter().find(|g| glob_match(g, name)) {
            return Some(format!("disabled by YAM_PLUGINS_DISABLE ({g})"));
        }
        if !self.select.is_empty() && !self.select.iter().any(|g| glob_match(g, name)) {
            return Some(format!(
                "not selected by YAM_PLUGINS_SELECT ({})",
                self.select.join(",")
            ));
        }
        None
    }
}

/// Glob match with `*` (any run) and `?` (one character).
pub fn glob_match(pattern: &str, name: &str) -> bool {
    let (p, n): (Vec<char>, Vec<char>) = (pattern.chars().collect(), name.chars().collect());
    let (mut pi, mut ni, mut star, mut mark) = (0, 0, None, 0);
    while ni < n.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == n[ni]) {
            pi += 1;
            ni += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ni;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ni = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs() {
        assert!(glob_match("cu*", "cuda"));
        assert!(glob_match("*", ""));
        assert!(glob_match("c?da", "cuda"));
        assert!(glob_match("*cl", "opencl"));
        assert!(!glob_match("cu*", "rocm"));
        assert!(!glob_match("c?da", "cda"));
        assert!(glob_match("a*b*c", "aXXbYYc"));
        assert!(!glob_match("a*b*c", "aXXbYY"));
    }

    #[test]
    fn disable_wins_over_select() {
        let f = NameFilter {
            select: vec!["c*".into()],
            disable: vec!["cpu*".into()],
        };
        assert_eq!(f.excludes("cuda"), None);
        assert!(f
            .excludes("cpu-plugin")
            .unwrap()
            .contains("YAM_PLUGINS_DISABLE"));
        assert!(f.excludes("opencl").unwrap().contains("YAM_PLUGINS_SELECT"));
    }

    #[test]
    fn cli_dirs_come_first_and_the_current_directory_never_appears() {
        let dirs = search_dirs(&[PathBuf::from("/opt/a"), PathBuf::from("/opt/b")]);
        assert_eq!(dirs[0].path, PathBuf::from("/opt/a"));
        assert_eq!(dirs[1].origin, "--plugin-dir");
        assert!(dirs.iter().all(|d| d.path != std::path::Path::new(".")));
        assert_eq!(
            dirs.last().unwrap().path,
            PathBuf::from("/usr/lib/yam/plugins")
        );
    }
}

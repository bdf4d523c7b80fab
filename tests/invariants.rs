//! The one-runtime invariants, checked over the source tree by CI (the compiler cannot
//! enforce them, so a static check does):
//!
//! - no second runtime and no `block_on` outside `src/main.rs`;
//! - no bare `tokio::spawn` (or any other task spawn) outside the task manager;
//! - no `unwrap()` / `expect(` in non-test code.
//!
//! Test code (`#[cfg(test)]` modules, which hoga keeps at the end of a file) is exempt.
//! The fixtures under `tests/fixtures/invariants/` plant each violation to prove the
//! check really fails.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};

#[derive(Debug, PartialEq)]
struct Violation {
    file: String,
    line: usize,
    rule: &'static str,
}

const RUNTIME_PATTERNS: &[&str] =
    &["Runtime::new", "Builder::new_multi_thread", "Builder::new_current_thread", "block_on("];
const SPAWN_PATTERNS: &[&str] = &[
    "tokio::spawn(",
    "task::spawn(",
    "spawn_blocking(",
    "spawn_local(",
    "tracker.spawn(",
    "JoinSet::new",
    "std::thread::spawn(",
    "thread::Builder::new",
];
const UNWRAP_PATTERNS: &[&str] = &[".unwrap()", ".expect("];

/// Removes `//` comments and the contents of string literals, so a pattern mentioned in
/// a doc comment or an error message is not a violation.
fn code_only(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars().peekable();
    let mut in_str = false;
    while let Some(c) = chars.next() {
        if in_str {
            if c == '\\' {
                chars.next();
            } else if c == '"' {
                in_str = false;
                out.push('"');
            }
            continue;
        }
        match c {
            '"' => {
                in_str = true;
                out.push('"');
            }
            '/' if chars.peek() == Some(&'/') => break,
            _ => out.push(c),
        }
    }
    out
}

fn scan_source(rel: &str, text: &str) -> Vec<Violation> {
    let is_main = rel.ends_with("src/main.rs") || rel == "main.rs";
    let is_task_manager = rel.ends_with("kernel/task_manager.rs");
    let mut out = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let trimmed = raw.trim_start();
        // hoga's convention: the test module closes the file, or is a file of its own
        // that says so with `#![cfg(test)]`.
        if trimmed.starts_with("#[cfg(test)]") || trimmed.starts_with("#![cfg(test)]") {
            break;
        }
        let line = code_only(raw);
        let mut hit = |rule: &'static str| out.push(Violation { file: rel.to_string(), line: i + 1, rule });
        if !is_main && RUNTIME_PATTERNS.iter().any(|p| line.contains(p)) {
            hit("second runtime or block_on outside main.rs");
        }
        if !is_task_manager && SPAWN_PATTERNS.iter().any(|p| line.contains(p)) {
            hit("task spawned outside the task manager");
        }
        if UNWRAP_PATTERNS.iter().any(|p| line.contains(p)) {
            hit("unwrap/expect in non-test code");
        }
    }
    out
}

fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                files.push(path);
            }
        }
    }
    files.sort();
    files
}

fn scan_dir(dir: &Path) -> Vec<Violation> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    rust_files(dir)
        .into_iter()
        .flat_map(|p| {
            let rel = p.strip_prefix(root).unwrap_or(&p).to_string_lossy().replace('\\', "/");
            scan_source(&rel, &std::fs::read_to_string(&p).unwrap())
        })
        .collect()
}

#[test]
fn source_tree_keeps_the_one_runtime_invariants() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let found = scan_dir(&src);
    assert!(
        found.is_empty(),
        "invariant violations:\n{}",
        found.iter().map(|v| format!("  {}:{}: {}", v.file, v.line, v.rule)).collect::<Vec<_>>().join("\n")
    );
}

#[test]
fn planted_violations_are_caught() {
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/invariants");
    let found = scan_dir(&fixtures);
    let rules_in = |name: &str| -> Vec<&'static str> {
        found.iter().filter(|v| v.file.ends_with(name)).map(|v| v.rule).collect()
    };
    assert_eq!(rules_in("second_runtime.rs"), vec!["second runtime or block_on outside main.rs"; 2]);
    assert_eq!(rules_in("bare_spawn.rs"), vec!["task spawned outside the task manager"; 2]);
    assert_eq!(rules_in("unwrap.rs"), vec!["unwrap/expect in non-test code"; 2]);
    assert!(rules_in("clean.rs").is_empty(), "comments, strings and test modules are exempt");
}

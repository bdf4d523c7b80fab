//! The data directory (`~/.local/share/hoga/`, or `$XDG_DATA_HOME/hoga/`) and how the small
//! state files in it are written: whole or not at all (a temporary file beside it, then a
//! rename), mode 0600, never through a symbolic link, the directory created 0700 and an
//! existing one left as it is.
//!
//! What lives there: the order journals (`journal.sqlite`, `journal-paper.sqlite`,
//! `journal-demo.sqlite`), the demo account (`demo-account.json`), the UI state
//! (`ui-state.toml`), saved layouts (`layouts.toml`) and favorites (`favorites.txt`).

use std::io::{self, Write as _};
use std::path::{Path, PathBuf};

/// The data directory, or None without a home directory.
pub fn default_dir() -> Option<PathBuf> {
    directories::ProjectDirs::from("", "", "hoga").map(|d| d.data_dir().to_path_buf())
}

/// Creates `dir` (and its parents) 0700 when missing; an existing directory is never
/// chmod'ed.
pub fn create_dir(dir: &Path) -> io::Result<()> {
    #[cfg(unix)]
    {
        std::os::unix::fs::DirBuilderExt::mode(std::fs::DirBuilder::new().recursive(true), 0o700).create(dir)
    }
    #[cfg(not(unix))]
    {
        std::fs::create_dir_all(dir)
    }
}

/// Writes `bytes` to `path` atomically: a reader (or the next start after a kill) sees the
/// old file or the new one, never half of one (not synced to the disk: see below). The file is 0600; a symbolic link at `path`
/// is replaced by the rename, never written through.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        create_dir(dir)?;
    }
    let mut name = path.file_name().map(|n| n.to_os_string()).unwrap_or_default();
    // Per process: two consoles saving at once never write the same temporary file.
    name.push(format!(".{}.tmp", std::process::id()));
    let tmp = path.with_file_name(name);
    let result = (|| {
        let mut opts = std::fs::OpenOptions::new();
        opts.write(true).create(true).truncate(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            opts.mode(0o600).custom_flags(libc::O_NOFOLLOW);
        }
        let mut f = opts.open(&tmp)?;
        f.write_all(bytes)?;
        // No fsync: a killed process loses nothing the kernel has (the rename is atomic
        // for every reader), and these writes happen on a key or a fill, where a sync can
        // take tens of milliseconds. After a power loss a file may be empty or old: a UI
        // state file is then reported and moved aside at the next start; the demo account
        // stops the start with the way out (`--fresh`), since its journal may hold more.
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// Moves `path` aside to `path.SUFFIX` (not overwriting an earlier one: `.1`, `.2`, … are
/// added), and returns where it went; None when there was nothing at `path`.
pub fn move_aside(path: &Path, suffix: &str) -> io::Result<Option<PathBuf>> {
    if path.symlink_metadata().is_err() {
        return Ok(None);
    }
    let mut name = path.file_name().map(|n| n.to_os_string()).unwrap_or_default();
    name.push(format!(".{suffix}"));
    let mut to = path.with_file_name(&name);
    let mut n = 1;
    while to.symlink_metadata().is_ok() {
        let mut numbered = name.clone();
        numbered.push(format!(".{n}"));
        to = path.with_file_name(numbered);
        n += 1;
    }
    std::fs::rename(path, &to)?;
    Ok(Some(to))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(unix)]
    #[test]
    fn atomic_write_is_private_and_replaces_a_link_rather_than_following_it() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        let path = data.join("state.toml");
        write_atomic(&path, b"one").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"one");
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        assert_eq!(std::fs::metadata(&data).unwrap().permissions().mode() & 0o777, 0o700);
        let target = dir.path().join("elsewhere");
        std::fs::write(&target, b"keep").unwrap();
        std::fs::remove_file(&path).unwrap();
        std::os::unix::fs::symlink(&target, &path).unwrap();
        write_atomic(&path, b"two").unwrap();
        assert_eq!(std::fs::read(&target).unwrap(), b"keep");
        assert_eq!(std::fs::read(&path).unwrap(), b"two");
        // No temporary file is left behind.
        let names: Vec<_> = std::fs::read_dir(&data).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(names, vec![std::ffi::OsString::from("state.toml")]);
    }

    #[test]
    fn move_aside_never_overwrites_an_earlier_copy() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.json");
        assert_eq!(move_aside(&path, "old").unwrap(), None);
        std::fs::write(&path, "1").unwrap();
        assert_eq!(move_aside(&path, "old").unwrap(), Some(dir.path().join("a.json.old")));
        std::fs::write(&path, "2").unwrap();
        assert_eq!(move_aside(&path, "old").unwrap(), Some(dir.path().join("a.json.old.1")));
        assert_eq!(std::fs::read_to_string(dir.path().join("a.json.old")).unwrap(), "1");
        assert!(!path.exists());
    }
}

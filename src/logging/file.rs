//! The log file writer: one file per UTC day, created 0600 in a 0700 directory.
//!
//! tracing-appender's own rolling appender creates files with the process umask (usually
//! 0644), and log lines can name markets, balances and order ids, so hoga writes through
//! this small writer instead; `tracing_appender::non_blocking` still does the buffering
//! on its worker thread. Old files beyond `keep` days are removed at each rollover.
//!
//! The directory: a missing one is created 0700. An existing one is used as it is and
//! never chmod'ed (it may be shared, like `/tmp`), but one that group or others may write
//! is refused: there, anyone could plant a file or a symbolic link under the name of
//! tomorrow's log. Log files are opened with `O_NOFOLLOW`, so a link is refused too.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use chrono::{NaiveDate, Utc};

/// File name prefix; files are `hoga.log.YYYY-MM-DD`.
pub(crate) const FILE_PREFIX: &str = "hoga.log";

/// A `Write` that appends to today's file and rolls over at UTC midnight.
#[derive(Debug)]
pub(crate) struct DailyFile {
    dir: PathBuf,
    keep: usize,
    day: NaiveDate,
    file: File,
}

/// Today's log file path in `dir`.
pub(crate) fn file_for(dir: &Path, day: NaiveDate) -> PathBuf {
    dir.join(format!("{FILE_PREFIX}.{}", day.format("%Y-%m-%d")))
}

/// Creates `dir` (and parents) with mode 0700 where it is missing. An existing
/// directory is never chmod'ed; one writable by group or others is refused with an error
/// that names it and its mode.
pub(crate) fn ensure_private_dir(dir: &Path) -> io::Result<()> {
    match check_private_dir(dir) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            #[cfg(unix)]
            {
                use std::os::unix::fs::DirBuilderExt;
                std::fs::DirBuilder::new().recursive(true).mode(0o700).create(dir)
            }
            #[cfg(not(unix))]
            std::fs::create_dir_all(dir)
        }
        other => other,
    }
}

/// The check of [`ensure_private_dir`] without creating anything (`hoga config check`):
/// `NotFound` for a missing directory (startup creates it 0700), an error naming the path
/// and mode for one that group or others may write, or that is not a directory.
pub(crate) fn check_private_dir(dir: &Path) -> io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        match std::fs::metadata(dir) {
            Ok(meta) => {
                if !meta.is_dir() {
                    return Err(io::Error::new(
                        io::ErrorKind::NotADirectory,
                        format!("{} is not a directory", dir.display()),
                    ));
                }
                let mode = meta.permissions().mode() & 0o7777;
                if mode & 0o022 != 0 {
                    return Err(io::Error::new(
                        io::ErrorKind::PermissionDenied,
                        format!(
                            "log directory {} is writable by group or others (mode {mode:04o}); hoga does not \
                             change an existing directory's permissions: set [general] log_dir to a private \
                             directory (a missing one is created 0700)",
                            dir.display()
                        ),
                    ));
                }
            }
            Err(e) => return Err(e),
        }
    }
    #[cfg(not(unix))]
    std::fs::metadata(dir)?;
    Ok(())
}

fn open_private(path: &Path) -> io::Result<File> {
    let mut opts = OpenOptions::new();
    opts.create(true).append(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        // Created 0600; never through a symbolic link (ELOOP is turned into words).
        opts.mode(0o600).custom_flags(libc::O_NOFOLLOW);
        let file = opts.open(path).map_err(|e| {
            if e.raw_os_error() == Some(libc::ELOOP) {
                io::Error::new(
                    e.kind(),
                    format!(
                        "{} is a symbolic link; hoga does not follow links for its log files",
                        path.display()
                    ),
                )
            } else {
                io::Error::new(e.kind(), format!("{}: {e}", path.display()))
            }
        })?;
        // An existing file created by an older version may be wider; narrow it (fchmod on
        // the file we opened, not on a path that could have been swapped).
        if file.metadata()?.permissions().mode() & 0o077 != 0 {
            file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
        }
        Ok(file)
    }
    #[cfg(not(unix))]
    opts.open(path)
}

impl DailyFile {
    /// Opens (creating 0600) today's file in `dir`, creating `dir` 0700 if needed.
    pub fn open(dir: &Path, keep: usize) -> io::Result<Self> {
        ensure_private_dir(dir)?;
        let day = Utc::now().date_naive();
        let file = open_private(&file_for(dir, day))?;
        Ok(DailyFile { dir: dir.to_path_buf(), keep: keep.max(1), day, file })
    }

    /// The file being written now.
    pub(crate) fn current_path(&self) -> PathBuf {
        file_for(&self.dir, self.day)
    }

    fn roll_if_needed(&mut self) -> io::Result<()> {
        let today = Utc::now().date_naive();
        if today != self.day {
            self.file.flush()?;
            self.file = open_private(&file_for(&self.dir, today))?;
            self.day = today;
            self.prune();
        }
        Ok(())
    }

    /// Removes the oldest `hoga.log.*` files beyond `keep`. Best effort: a file we cannot
    /// remove is left for next time.
    fn prune(&self) {
        let Ok(entries) = std::fs::read_dir(&self.dir) else { return };
        let mut files: Vec<PathBuf> = entries
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| {
                p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with(&format!("{FILE_PREFIX}.")))
            })
            .collect();
        files.sort();
        let excess = files.len().saturating_sub(self.keep);
        for old in files.into_iter().take(excess) {
            let _ = std::fs::remove_file(old);
        }
    }
}

impl Write for DailyFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.roll_if_needed()?;
        self.file.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn mode_of(p: &Path) -> u32 {
        std::fs::metadata(p).unwrap().permissions().mode() & 0o7777
    }

    #[test]
    fn missing_directory_is_created_0700_with_its_parents() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("state").join("hoga");
        let f = DailyFile::open(&dir, 3).unwrap();
        assert_eq!(mode_of(&tmp.path().join("state")), 0o700);
        assert_eq!(mode_of(&dir), 0o700);
        assert_eq!(mode_of(&f.current_path()), 0o600);
    }

    #[test]
    fn shared_existing_directory_is_refused_and_left_untouched() {
        let tmp = tempfile::tempdir().unwrap();
        let shared = tmp.path().join("shared");
        std::fs::create_dir(&shared).unwrap();
        std::fs::set_permissions(&shared, std::fs::Permissions::from_mode(0o1777)).unwrap();
        let e = DailyFile::open(&shared, 3).unwrap_err().to_string();
        assert!(e.contains(&shared.display().to_string()) && e.contains("1777"), "{e}");
        assert!(e.contains("group or others") && e.contains("log_dir"), "{e}");
        assert_eq!(mode_of(&shared), 0o1777, "an existing directory is never chmod'ed");
        assert_eq!(std::fs::read_dir(&shared).unwrap().count(), 0, "nothing written there");
    }

    #[test]
    fn private_existing_directory_keeps_its_mode() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("logs");
        std::fs::create_dir(&dir).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o750)).unwrap();
        DailyFile::open(&dir, 3).unwrap();
        assert_eq!(mode_of(&dir), 0o750);
    }

    #[test]
    fn symlinked_log_file_is_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("logs");
        std::fs::create_dir(&dir).unwrap();
        let target = tmp.path().join("victim");
        std::fs::write(&target, b"precious").unwrap();
        std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o644)).unwrap();
        // Today's and tomorrow's names, so a run across midnight meets a link too.
        let today = Utc::now().date_naive();
        for day in [today, today.succ_opt().unwrap()] {
            std::os::unix::fs::symlink(&target, file_for(&dir, day)).unwrap();
        }
        let e = DailyFile::open(&dir, 3).unwrap_err().to_string();
        assert!(e.contains("symbolic link") && e.contains(&dir.display().to_string()), "{e}");
        assert_eq!(std::fs::read(&target).unwrap(), b"precious");
        assert_eq!(mode_of(&target), 0o644, "the link's target is not chmod'ed either");
    }
}

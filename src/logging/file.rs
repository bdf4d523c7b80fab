//! The log file writer: one file per UTC day, created 0600 in a 0700 directory.
//!
//! tracing-appender's own rolling appender creates files with the process umask (usually
//! 0644), and log lines can name markets, balances and order ids, so hoga writes through
//! this small writer instead; `tracing_appender::non_blocking` still does the buffering
//! on its worker thread. Old files beyond `keep` days are removed at each rollover.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use chrono::{NaiveDate, Utc};

/// File name prefix; files are `hoga.log.YYYY-MM-DD`.
pub const FILE_PREFIX: &str = "hoga.log";

/// A `Write` that appends to today's file and rolls over at UTC midnight.
#[derive(Debug)]
pub struct DailyFile {
    dir: PathBuf,
    keep: usize,
    day: NaiveDate,
    file: File,
}

/// Today's log file path in `dir`.
pub fn file_for(dir: &Path, day: NaiveDate) -> PathBuf {
    dir.join(format!("{FILE_PREFIX}.{}", day.format("%Y-%m-%d")))
}

/// Creates `dir` (and parents) with mode 0700 where we create it, and tightens an
/// existing hoga log directory to 0700.
pub fn ensure_private_dir(dir: &Path) -> io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
        std::fs::DirBuilder::new().recursive(true).mode(0o700).create(dir)?;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
    }
    #[cfg(not(unix))]
    std::fs::create_dir_all(dir)?;
    Ok(())
}

fn open_private(path: &Path) -> io::Result<File> {
    let mut opts = OpenOptions::new();
    opts.create(true).append(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        opts.mode(0o600);
        let file = opts.open(path)?;
        // An existing file created by an older version may be wider; narrow it.
        file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
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
    pub fn current_path(&self) -> PathBuf {
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

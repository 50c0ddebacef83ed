//! A small tmpfs mounted for a test (a full or read-only disk on demand). Mounting needs
//! root; without it the tests that need one say why (`SKIPPED: ...`) and check nothing.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::{is_root, skipped};

/// A tmpfs mounted at a directory for as long as it lives.
pub struct Tmpfs {
    dir: PathBuf,
}

impl Tmpfs {
    /// Mounts a tmpfs with `options` (`size=64k`, `ro`, ...) at `dir` (created), or says
    /// why it cannot.
    pub fn mount(dir: &Path, options: &str) -> Option<Tmpfs> {
        if !is_root() {
            skipped("mounting a tmpfs needs root");
            return None;
        }
        std::fs::create_dir_all(dir).expect("mount point");
        let mounted = Command::new("mount")
            .args(["-t", "tmpfs", "-o", options, "tmpfs"])
            .arg(dir)
            .output()
            .expect("mount");
        if !mounted.status.success() {
            let why = String::from_utf8_lossy(&mounted.stderr);
            skipped(&format!("mount failed: {why}"));
            return None;
        }
        Some(Tmpfs {
            dir: dir.to_path_buf(),
        })
    }

    pub fn path(&self) -> &Path {
        &self.dir
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.dir).output();
    }
}

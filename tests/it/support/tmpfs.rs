//! A small tmpfs mounted for a test (a full or read-only disk on demand). Mounting needs
//! root; without it the tests that need one print why and check nothing.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            let line = status.lines().find(|l| l.starts_with("Uid:"))?.to_string();
            line.split_whitespace().nth(2).map(|euid| euid == "0")
        })
        .unwrap_or(false)
}

/// A tmpfs mounted at a directory for as long as it lives.
pub struct Tmpfs {
    dir: PathBuf,
}

impl Tmpfs {
    /// Mounts a tmpfs with `options` (`size=64k`, `ro`, ...) at `dir` (created), or says
    /// why it cannot.
    pub fn mount(dir: &Path, options: &str) -> Option<Tmpfs> {
        if !is_root() {
            println!("skipped: mounting a tmpfs needs root");
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
            println!("skipped: mount failed: {why}");
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

//! Reading the local files a user hands rpatch: playbooks, included task files, roles, vars
//! files, `-e @file`, inventories, `group_vars/`/`host_vars/`, and template and copy sources.
//!
//! Every such read goes through [`read_text`] or [`read_bytes`], which accept regular files
//! only and at most [`max_bytes`] bytes. So `vars_files: [/dev/zero]` or a FIFO named as an
//! inventory is an error naming the path, never a hang or an out-of-memory abort. The file is
//! opened non-blocking and checked with `fstat` on the open descriptor, so opening a FIFO
//! cannot block and a file swapped for a device between check and read is still refused.

use std::fs::OpenOptions;
use std::io::Read;
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

/// The default largest input file: 16 MiB, far above any real playbook or inventory.
pub const DEFAULT_MAX_BYTES: u64 = 16 * 1024 * 1024;

/// The environment variable that overrides [`DEFAULT_MAX_BYTES`] (a number of bytes).
pub const MAX_BYTES_ENV: &str = "RPATCH_MAX_INPUT_BYTES";

/// Why an input file was not read.
#[derive(Debug, thiserror::Error)]
pub enum InputError {
    /// The operating system refused (missing file, no permission, ...).
    #[error("cannot read `{}`: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// What the OS said.
        #[source]
        source: std::io::Error,
    },
    /// A FIFO, device, socket or directory where a file is expected.
    #[error("cannot read `{}`: it is {kind}, not a regular file", path.display())]
    NotRegular {
        /// The path.
        path: PathBuf,
        /// "a FIFO", "a character device", ...
        kind: &'static str,
    },
    /// A file larger than the input limit.
    #[error("cannot read `{}`: it is larger than the input limit of {limit} bytes", path.display())]
    TooLarge {
        /// The file.
        path: PathBuf,
        /// The limit in force.
        limit: u64,
    },
    /// A text file that is not UTF-8.
    #[error("cannot read `{}`: it is not UTF-8 text (invalid byte at offset {offset})", path.display())]
    NotUtf8 {
        /// The file.
        path: PathBuf,
        /// The byte offset of the first invalid byte.
        offset: usize,
    },
    /// [`MAX_BYTES_ENV`] is set to something that is not a number of bytes.
    #[error("{MAX_BYTES_ENV}=`{value}` is not a number of bytes")]
    BadLimit {
        /// The value as set.
        value: String,
    },
}

impl InputError {
    /// The path the error is about (none for [`InputError::BadLimit`]).
    pub fn path(&self) -> Option<&Path> {
        match self {
            Self::Io { path, .. }
            | Self::NotRegular { path, .. }
            | Self::TooLarge { path, .. }
            | Self::NotUtf8 { path, .. } => Some(path),
            Self::BadLimit { .. } => None,
        }
    }

    /// What to do about it, when there is something to say.
    pub fn help(&self) -> Option<String> {
        match self {
            Self::TooLarge { .. } => Some(format!(
                "set {MAX_BYTES_ENV} to a larger number of bytes if the file is meant to be this big"
            )),
            Self::NotRegular { .. } => {
                Some("rpatch reads playbooks, inventories, vars and templates from regular files only".into())
            }
            Self::BadLimit { .. } => Some(format!(
                "unset it for the default of {DEFAULT_MAX_BYTES} bytes (16 MiB)"
            )),
            _ => None,
        }
    }
}

impl crate::diagnostic::Diagnose for InputError {
    fn help(&self) -> Option<String> {
        InputError::help(self)
    }
}

/// The largest input file, from [`MAX_BYTES_ENV`] or [`DEFAULT_MAX_BYTES`].
pub fn max_bytes() -> Result<u64, InputError> {
    match std::env::var(MAX_BYTES_ENV) {
        Ok(value) => value
            .trim()
            .parse()
            .map_err(|_| InputError::BadLimit { value }),
        Err(std::env::VarError::NotPresent) => Ok(DEFAULT_MAX_BYTES),
        Err(std::env::VarError::NotUnicode(value)) => Err(InputError::BadLimit {
            value: value.to_string_lossy().into_owned(),
        }),
    }
}

/// Reads a regular file of at most [`max_bytes`] bytes.
pub fn read_bytes(path: &Path) -> Result<Vec<u8>, InputError> {
    read_capped(path, max_bytes()?)
}

/// Reads a regular UTF-8 text file of at most [`max_bytes`] bytes.
pub fn read_text(path: &Path) -> Result<String, InputError> {
    String::from_utf8(read_bytes(path)?).map_err(|error| InputError::NotUtf8 {
        path: path.to_path_buf(),
        offset: error.utf8_error().valid_up_to(),
    })
}

/// Reads a regular file of at most `limit` bytes.
pub fn read_capped(path: &Path, limit: u64) -> Result<Vec<u8>, InputError> {
    let io = |source| InputError::Io {
        path: path.to_path_buf(),
        source,
    };
    // Non-blocking, so that opening a FIFO with no writer returns at once; the flag does not
    // change how a regular file reads.
    let nonblock = i32::try_from(rustix::fs::OFlags::NONBLOCK.bits()).unwrap_or(0);
    let file = OpenOptions::new()
        .read(true)
        .custom_flags(nonblock)
        .open(path)
        .map_err(io)?;
    let metadata = file.metadata().map_err(io)?;
    let file_type = metadata.file_type();
    if !file_type.is_file() {
        return Err(InputError::NotRegular {
            path: path.to_path_buf(),
            kind: kind_of(&file_type),
        });
    }
    let too_large = || InputError::TooLarge {
        path: path.to_path_buf(),
        limit,
    };
    if metadata.len() > limit {
        return Err(too_large());
    }
    let mut bytes = Vec::with_capacity(usize::try_from(metadata.len()).unwrap_or(0));
    // One byte past the limit tells a file that grew while being read from one that fits.
    Read::take(&file, limit.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(io)?;
    if u64::try_from(bytes.len()).unwrap_or(u64::MAX) > limit {
        return Err(too_large());
    }
    Ok(bytes)
}

fn kind_of(file_type: &std::fs::FileType) -> &'static str {
    if file_type.is_dir() {
        "a directory"
    } else if file_type.is_fifo() {
        "a FIFO"
    } else if file_type.is_char_device() {
        "a character device"
    } else if file_type.is_block_device() {
        "a block device"
    } else if file_type.is_socket() {
        "a socket"
    } else {
        "not a file"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_regular_file_is_read_whole() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("vars.yml");
        std::fs::write(&path, "a: 1\n").expect("write");
        assert_eq!(read_text(&path).expect("read"), "a: 1\n");
        assert_eq!(read_capped(&path, 5).expect("fits exactly"), b"a: 1\n");
    }

    #[test]
    fn a_file_over_the_limit_is_refused_by_name() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("big.yml");
        std::fs::write(&path, "a: 12\n").expect("write");
        let error = read_capped(&path, 5).expect_err("too large");
        assert!(matches!(error, InputError::TooLarge { limit: 5, .. }));
        assert!(error.to_string().contains("big.yml"), "{error}");
        assert!(error.to_string().contains("limit of 5 bytes"), "{error}");
    }

    #[test]
    fn a_character_device_is_not_read() {
        let error = read_capped(Path::new("/dev/zero"), 1024).expect_err("device");
        assert!(
            matches!(
                error,
                InputError::NotRegular {
                    kind: "a character device",
                    ..
                }
            ),
            "{error}"
        );
        assert!(error.to_string().contains("/dev/zero"), "{error}");
    }

    #[test]
    fn a_fifo_without_a_writer_is_refused_at_once() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("pipe");
        rustix::fs::mkfifoat(
            rustix::fs::CWD,
            &path,
            rustix::fs::Mode::from_raw_mode(0o600),
        )
        .expect("mkfifo");
        let error = read_capped(&path, 1024).expect_err("fifo");
        assert!(
            matches!(error, InputError::NotRegular { kind: "a FIFO", .. }),
            "{error}"
        );
    }

    #[test]
    fn a_directory_is_not_a_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let error = read_capped(dir.path(), 1024).expect_err("directory");
        assert!(
            matches!(
                error,
                InputError::NotRegular {
                    kind: "a directory",
                    ..
                }
            ),
            "{error}"
        );
    }

    #[test]
    fn invalid_utf8_names_the_offset() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("latin1.yml");
        std::fs::write(&path, b"a: caf\xe9\n").expect("write");
        let error = read_text(&path).expect_err("not utf-8");
        assert!(
            matches!(error, InputError::NotUtf8 { offset: 6, .. }),
            "{error}"
        );
    }

    #[test]
    fn a_missing_file_is_an_io_error_with_its_path() {
        let error = read_capped(Path::new("/nonexistent/x.yml"), 10).expect_err("missing");
        assert!(matches!(error, InputError::Io { .. }));
        assert_eq!(error.path(), Some(Path::new("/nonexistent/x.yml")));
    }
}

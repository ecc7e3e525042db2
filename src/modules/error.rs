//! Why a module stopped without a result of its own: bad arguments, an unreachable host, or
//! a failure on the host. [`super::run`] turns each into a result in one place.

use super::ArgError;
use crate::transport::TransportError;

/// Why a module run ended early.
#[derive(Debug, thiserror::Error)]
pub enum ModuleError {
    /// The arguments do not fit the module: a failed result.
    #[error(transparent)]
    Args(#[from] ArgError),
    /// The host could not be reached: an unreachable result.
    #[error(transparent)]
    Transport(#[from] TransportError),
    /// The host answered, but the work failed: a failed result.
    #[error("{0}")]
    Failed(String),
}

//! A stand-in for a host whose connection could not even be set up.

use async_trait::async_trait;

use super::{ExecOutput, ExecRequest, Transport, TransportError};

/// Answers every command with the reason the host cannot be reached, so the host is reported
/// unreachable by the first task that needs it rather than failing the whole run.
#[derive(Debug)]
pub struct UnavailableTransport {
    reason: String,
}

impl UnavailableTransport {
    /// A transport that always fails with `reason`.
    pub fn new(reason: impl ToString) -> Self {
        Self {
            reason: reason.to_string(),
        }
    }
}

#[async_trait]
impl Transport for UnavailableTransport {
    async fn exec(&self, _request: &ExecRequest) -> Result<ExecOutput, TransportError> {
        Err(TransportError::Connect(self.reason.clone()))
    }
}

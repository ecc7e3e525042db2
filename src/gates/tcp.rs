//! The `tcp` gate: a port must accept a connection within the timeout.

use std::time::Duration;

use tokio::net::TcpStream;

use super::check::{human, Attempt};

/// Connects to `host:port` (any resolved address) and closes the connection at once.
pub(crate) async fn connect(host: &str, port: u16, timeout: Duration) -> Attempt {
    let target = if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    };
    match tokio::time::timeout(timeout, TcpStream::connect(target.as_str())).await {
        Ok(Ok(_stream)) => Attempt::Pass(format!("{target} accepts connections")),
        Ok(Err(error)) => Attempt::Fail(format!("cannot connect to {target}: {error}")),
        Err(_) => Attempt::Fail(format!(
            "cannot connect to {target}: no answer within {}",
            human(timeout)
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn an_open_port_passes() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let attempt = connect("127.0.0.1", port, Duration::from_secs(2)).await;
        assert!(matches!(attempt, Attempt::Pass(_)), "{attempt:?}");
    }

    #[tokio::test]
    async fn a_closed_port_fails_naming_the_target() {
        let port = {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
            listener.local_addr().expect("addr").port()
        };
        let attempt = connect("127.0.0.1", port, Duration::from_secs(2)).await;
        let Attempt::Fail(message) = attempt else {
            panic!("closed port passed")
        };
        assert!(
            message.starts_with(&format!("cannot connect to 127.0.0.1:{port}:")),
            "{message}"
        );
    }

    #[tokio::test]
    async fn ipv6_literals_are_bracketed() {
        let Ok(listener) = std::net::TcpListener::bind("[::1]:0") else {
            // No IPv6 loopback here: the bracketing is still checked through the failure text.
            let attempt = connect("::1", 1, Duration::from_secs(1)).await;
            assert!(matches!(attempt, Attempt::Fail(m) if m.contains("[::1]:1")));
            return;
        };
        let port = listener.local_addr().expect("addr").port();
        let attempt = connect("::1", port, Duration::from_secs(2)).await;
        assert!(matches!(attempt, Attempt::Pass(_)), "{attempt:?}");
    }
}

//! Feeding a command's standard input, shared by the local and SSH transports.
//!
//! Without a become password the command's input is written at once. With one, the writer
//! waits for [`PromptWatch`]'s cues read from standard error: the password line goes out only
//! after sudo printed its prompt, the command's own input only after the command started, and
//! when standard error ends without either (sudo refused, or failed) nothing is sent at all.

use std::fmt;

use tokio::io::{AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::become_prompt::{BecomeError, Challenge, Cue, PromptWatch};

/// A password that never shows in `Debug` output.
pub(crate) struct Secret(String);

impl Secret {
    /// Wraps a password.
    pub fn new(password: String) -> Self {
        Self(password)
    }

    /// The password line sudo -S reads.
    fn line(&self) -> Vec<u8> {
        let mut line = self.0.as_bytes().to_vec();
        line.push(b'\n');
        line
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("********")
    }
}

/// What a command's standard input receives, and when.
#[derive(Debug, Default)]
pub(crate) struct Input {
    /// The command's own input.
    data: Option<Vec<u8>>,
    /// The password exchange, when sudo may ask for a password.
    exchange: Option<(Secret, Challenge)>,
}

impl Input {
    /// The command's own input, written at once.
    pub fn plain(data: Option<Vec<u8>>) -> Self {
        Self {
            data,
            exchange: None,
        }
    }

    /// Input for a command behind `sudo -S -p PROMPT`: the password only when prompted, the
    /// data only once the command runs.
    pub fn after_prompt(data: Option<Vec<u8>>, password: Secret, challenge: Challenge) -> Self {
        Self {
            data,
            exchange: Some((password, challenge)),
        }
    }

    /// The command's own input when no password exchange is involved (the inner `None`: no
    /// input at all); `None` when sudo may prompt for a password on standard input.
    pub fn plain_data(&self) -> Option<Option<&[u8]>> {
        match self.exchange {
            Some(_) => None,
            None => Some(self.data.as_deref()),
        }
    }

    /// Nothing will ever be written: the transport may close standard input at once.
    pub fn is_empty(&self) -> bool {
        self.data.is_none() && self.exchange.is_none()
    }

    /// Starts the task that writes standard input to `writer` (and closes it when done);
    /// returns the filter the transport must pass standard error through.
    pub fn start<W>(self, writer: W) -> (StderrFilter, JoinHandle<()>)
    where
        W: AsyncWrite + Unpin + Send + 'static,
    {
        match self.exchange {
            None => (
                StderrFilter::default(),
                tokio::spawn(write_plain(writer, self.data)),
            ),
            Some((password, challenge)) => {
                let (cues, heard) = mpsc::unbounded_channel();
                let filter = StderrFilter {
                    watch: Some((PromptWatch::new(&challenge), cues)),
                };
                let task = tokio::spawn(write_after_cues(writer, self.data, password, heard));
                (filter, task)
            }
        }
    }
}

/// Passes a command's standard error through, minus sudo's prompt and the start marker, and
/// tells the input writer what it saw. Dropping it tells the writer that no cue will come.
#[derive(Debug, Default)]
pub(crate) struct StderrFilter {
    watch: Option<(PromptWatch, mpsc::UnboundedSender<Cue>)>,
}

impl StderrFilter {
    /// What the user should see of this chunk of standard error (`Err` when sudo asked for
    /// the password a second time: the transport must stop the command).
    pub fn pass(&mut self, chunk: &[u8]) -> Result<Vec<u8>, BecomeError> {
        let Some((watch, cues)) = &mut self.watch else {
            return Ok(chunk.to_vec());
        };
        let mut visible = Vec::with_capacity(chunk.len());
        let heard = watch.feed(chunk, &mut visible);
        let heard = match heard {
            Ok(heard) => heard,
            Err(error) => {
                // No more cues: the writer closes standard input without sending anything.
                self.watch = None;
                return Err(error);
            }
        };
        for cue in heard {
            // The writer is gone only when the command no longer reads; nothing to tell it.
            let _ = cues.send(cue);
        }
        Ok(visible)
    }

    /// Standard error ended: the bytes held back as a possible token, now shown.
    pub fn finish(&mut self) -> Vec<u8> {
        let mut visible = Vec::new();
        if let Some((watch, _)) = self.watch.take() {
            let mut watch = watch;
            watch.finish(&mut visible);
        }
        visible
    }
}

async fn write_plain<W: AsyncWrite + Unpin>(mut writer: W, data: Option<Vec<u8>>) {
    // The command may exit without reading its input; that is not our error.
    if let Some(data) = data {
        if writer.write_all(&data).await.is_err() {
            return;
        }
    }
    let _ = writer.flush().await;
    let _ = writer.shutdown().await;
}

async fn write_after_cues<W: AsyncWrite + Unpin>(
    mut writer: W,
    data: Option<Vec<u8>>,
    password: Secret,
    mut heard: mpsc::UnboundedReceiver<Cue>,
) {
    let mut password = Some(password);
    loop {
        match heard.recv().await {
            Some(Cue::Password) => {
                // The watch cues the password at most once; `take` makes sure of it here too.
                if let Some(password) = password.take() {
                    if writer.write_all(&password.line()).await.is_err()
                        || writer.flush().await.is_err()
                    {
                        return;
                    }
                }
            }
            Some(Cue::Started) => break,
            None => {
                let _ = writer.shutdown().await;
                return;
            }
        }
    }
    drop(password);
    write_plain(writer, data).await;
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncReadExt;

    async fn written(mut reader: tokio::io::DuplexStream) -> Vec<u8> {
        let mut all = Vec::new();
        reader.read_to_end(&mut all).await.expect("read");
        all
    }

    fn challenge() -> Challenge {
        Challenge::from_token("feed")
    }

    #[tokio::test]
    async fn plain_input_is_written_at_once() {
        let (writer, reader) = tokio::io::duplex(1024);
        let (mut filter, task) = Input::plain(Some(b"data".to_vec())).start(writer);
        assert_eq!(filter.pass(b"err").expect("pass"), b"err");
        task.await.expect("writer");
        assert_eq!(written(reader).await, b"data");
    }

    #[tokio::test]
    async fn password_only_after_the_prompt_then_the_data() {
        let c = challenge();
        let (writer, reader) = tokio::io::duplex(1024);
        let input =
            Input::after_prompt(Some(b"data".to_vec()), Secret::new("pw".into()), c.clone());
        let (mut filter, task) = input.start(writer);
        filter.pass(c.prompt.as_bytes()).expect("prompt");
        let shown = filter
            .pass(format!("{}\n", c.marker).as_bytes())
            .expect("marker");
        assert!(shown.is_empty());
        task.await.expect("writer");
        assert_eq!(written(reader).await, b"pw\ndata");
    }

    #[tokio::test]
    async fn no_prompt_means_only_the_data() {
        let c = challenge();
        let (writer, reader) = tokio::io::duplex(1024);
        let input =
            Input::after_prompt(Some(b"data".to_vec()), Secret::new("pw".into()), c.clone());
        let (mut filter, task) = input.start(writer);
        filter
            .pass(format!("{}\n", c.marker).as_bytes())
            .expect("marker");
        task.await.expect("writer");
        assert_eq!(written(reader).await, b"data");
    }

    #[tokio::test]
    async fn a_second_prompt_stops_everything_and_the_end_sends_nothing() {
        let c = challenge();
        let (writer, reader) = tokio::io::duplex(1024);
        let input =
            Input::after_prompt(Some(b"data".to_vec()), Secret::new("pw".into()), c.clone());
        let (mut filter, task) = input.start(writer);
        filter.pass(c.prompt.as_bytes()).expect("first prompt");
        assert_eq!(
            filter.pass(c.prompt.as_bytes()),
            Err(BecomeError::IncorrectPassword)
        );
        task.await.expect("writer");
        assert_eq!(written(reader).await, b"pw\n");

        // Standard error ends with neither prompt nor marker: nothing at all is written.
        let (writer, reader) = tokio::io::duplex(1024);
        let input = Input::after_prompt(Some(b"data".to_vec()), Secret::new("pw".into()), c);
        let (mut filter, task) = input.start(writer);
        assert_eq!(filter.pass(b"sudo: nope\n").expect("pass"), b"sudo: nope\n");
        drop(filter);
        task.await.expect("writer");
        assert_eq!(written(reader).await, b"");
    }

    #[test]
    fn debug_never_shows_the_password() {
        let input = Input::after_prompt(None, Secret::new("s3cret".into()), challenge());
        assert!(!format!("{input:?}").contains("s3cret"));
    }
}

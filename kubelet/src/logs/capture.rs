//! A container's output, captured as a container runtime does: stdout and stderr are read
//! from pipes and written to the run's CRI log (`<RFC 3339 time> <stream> <F|P> <line>`, lines
//! over 16 KiB split into partial ones), which `kubectl logs` is served from, and appended as
//! they are to the container's plain log, `<container>.log`, for people to read.

use std::fs::File;
use std::io::Write;

use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::sync::{mpsc, watch};

use super::read::fixed_nanos;

/// containerd's longest log line; longer ones are written in parts.
const MAX_LINE: usize = 16 * 1024;
/// Pieces waiting to be written: a process that writes faster waits for the kubelet.
const BACKLOG: usize = 256;

enum Piece {
    /// Bytes as the process wrote them, for the plain log.
    Raw(Vec<u8>),
    Line {
        stream: &'static str,
        at: jiff::Timestamp,
        content: Vec<u8>,
        partial: bool,
    },
}

/// Starts copying the two pipes into the files. The receiver holds how many bytes the CRI log
/// has; its sender is dropped (`changed()` fails) once both pipes are closed and everything is
/// written: the run's log is complete.
pub fn start(
    stdout: impl AsyncRead + Unpin + Send + 'static,
    stderr: impl AsyncRead + Unpin + Send + 'static,
    plain: File,
    cri: File,
) -> watch::Receiver<u64> {
    let (pieces, received) = mpsc::channel(BACKLOG);
    let (written, progress) = watch::channel(0u64);
    tokio::spawn(read(stdout, "stdout", pieces.clone()));
    tokio::spawn(read(stderr, "stderr", pieces));
    tokio::spawn(write(received, plain, cri, written));
    progress
}

async fn read(mut pipe: impl AsyncRead + Unpin, stream: &'static str, pieces: mpsc::Sender<Piece>) {
    let mut buffer = vec![0u8; 8192];
    let mut pending: Vec<u8> = Vec::new();
    let line = |content: Vec<u8>, partial: bool| Piece::Line {
        stream,
        at: jiff::Timestamp::now(),
        content,
        partial,
    };
    loop {
        let read = match pipe.read(&mut buffer).await {
            Ok(0) | Err(_) => break,
            Ok(read) => read,
        };
        let chunk = &buffer[..read];
        if pieces.send(Piece::Raw(chunk.to_vec())).await.is_err() {
            return;
        }
        pending.extend_from_slice(chunk);
        loop {
            let end = pending.iter().position(|byte| *byte == b'\n');
            let piece = match end {
                Some(end) if end <= MAX_LINE => {
                    let mut content: Vec<u8> = pending.drain(..=end).collect();
                    content.pop();
                    line(content, false)
                }
                _ if pending.len() >= MAX_LINE => line(pending.drain(..MAX_LINE).collect(), true),
                _ => break,
            };
            if pieces.send(piece).await.is_err() {
                return;
            }
        }
    }
    // Output that never got its newline: kept as it was, a part without an end.
    if !pending.is_empty() {
        let _ = pieces.send(line(pending, true)).await;
    }
}

async fn write(
    mut pieces: mpsc::Receiver<Piece>,
    mut plain: File,
    mut cri: File,
    written: watch::Sender<u64>,
) {
    let mut total = 0u64;
    let mut failed = false;
    while let Some(piece) = pieces.recv().await {
        let result = match piece {
            Piece::Raw(bytes) => plain.write_all(&bytes),
            Piece::Line {
                stream,
                at,
                content,
                partial,
            } => {
                let mut line = Vec::with_capacity(content.len() + 48);
                line.extend_from_slice(fixed_nanos(at).as_bytes());
                line.extend_from_slice(
                    format!(" {stream} {} ", if partial { "P" } else { "F" }).as_bytes(),
                );
                line.extend_from_slice(&content);
                line.push(b'\n');
                let result = cri.write_all(&line);
                if result.is_ok() {
                    total += line.len() as u64;
                    written.send_replace(total);
                }
                result
            }
        };
        if let Err(error) = result
            && !failed
        {
            // Once: a full disk would otherwise log every line.
            failed = true;
            tracing::warn!(%error, "kubelet: cannot write a container's log");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn both_streams_reach_both_logs_and_the_end_is_signalled() {
        let dir = tempfile::tempdir().unwrap();
        let (plain_path, cri_path) = (dir.path().join("c.log"), dir.path().join("0.log"));
        let (plain, cri) = (
            File::create(&plain_path).unwrap(),
            File::create(&cri_path).unwrap(),
        );
        let long = "x".repeat(MAX_LINE + 5);
        let stdout = format!("one\n{long}\nunfinished");
        let mut progress = start(
            std::io::Cursor::new(stdout.clone().into_bytes()),
            std::io::Cursor::new(b"oops\n".to_vec()),
            plain,
            cri,
        );
        while progress.changed().await.is_ok() {}
        let plain = std::fs::read_to_string(&plain_path).unwrap();
        assert!(
            plain.contains(&stdout) && plain.contains("oops\n"),
            "{plain}"
        );
        let cri = std::fs::read(&cri_path).unwrap();
        assert_eq!(*progress.borrow(), cri.len() as u64);
        let lines: Vec<(bool, String)> = cri
            .split(|byte| *byte == b'\n')
            .filter(|line| !line.is_empty())
            .map(|line| {
                let parsed = super::super::read::parse_cri(line).unwrap();
                (
                    parsed.partial,
                    String::from_utf8_lossy(parsed.content).into_owned(),
                )
            })
            .collect();
        assert!(lines.contains(&(false, "oops".into())), "{lines:?}");
        let out: Vec<&(bool, String)> = lines.iter().filter(|(_, l)| l != "oops").collect();
        assert_eq!(
            out,
            [
                &(false, "one".to_string()),
                &(true, "x".repeat(MAX_LINE)),
                &(false, "xxxxx".to_string()),
                &(true, "unfinished".to_string()),
            ]
        );
    }
}

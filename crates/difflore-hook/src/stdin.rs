//! The hook's bounded read of stdin (DESIGN §9): stop at the end of the first complete JSON
//! value, or after ~300 ms of silence, or at an overall deadline; keep at most 1 MiB and drain
//! (read and discard) anything past it, so an agent writing a huge payload is never blocked.

use std::io::Read;
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// Bytes kept from stdin; anything past this is read and discarded.
pub const STDIN_CAP: usize = 1024 * 1024;
/// Stop waiting after this long without a byte.
pub const SILENCE: Duration = Duration::from_millis(300);
/// Stop reading after this long in any case.
pub const READ_DEADLINE: Duration = Duration::from_millis(400);

/// How the read ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    /// A complete JSON value ends at this offset of `bytes`.
    Complete(usize),
    /// The bytes so far cannot start a JSON value (not worth waiting for more).
    Invalid,
    /// End of input before a complete value.
    Eof,
    /// No byte for [`SILENCE`].
    Silence,
    /// [`READ_DEADLINE`] passed.
    Deadline,
    /// More than [`STDIN_CAP`] bytes without a complete value in the prefix.
    Overflow,
}

/// What was read.
#[derive(Debug)]
pub struct Input {
    pub bytes: Vec<u8>,
    /// Bytes seen in all, including those discarded past the cap.
    pub total: usize,
    pub ending: Ending,
}

enum Msg {
    Chunk(Vec<u8>),
    End,
}

/// Reads one event from `src` within the bounds above.
pub fn read_bounded<R: Read + Send + 'static>(src: R) -> Input {
    read_bounded_with(src, SILENCE, READ_DEADLINE, STDIN_CAP)
}

/// [`read_bounded`] with explicit bounds (tests).
pub fn read_bounded_with<R: Read + Send + 'static>(
    mut src: R,
    silence: Duration,
    deadline: Duration,
    cap: usize,
) -> Input {
    let (tx, rx) = mpsc::sync_channel::<Msg>(16);
    // The reader thread may stay blocked on a stdin the agent keeps open; the process exits
    // without joining it.
    let spawned = std::thread::Builder::new()
        .name("hook-stdin".into())
        .spawn(move || {
            let mut buf = vec![0u8; 64 * 1024];
            loop {
                match src.read(&mut buf) {
                    Ok(0) => {
                        let _ = tx.send(Msg::End);
                        return;
                    }
                    Ok(n) => {
                        if tx.send(Msg::Chunk(buf[..n].to_vec())).is_err() {
                            return;
                        }
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                    Err(_) => {
                        let _ = tx.send(Msg::End);
                        return;
                    }
                }
            }
        });
    let mut input = Input {
        bytes: Vec::new(),
        total: 0,
        ending: Ending::Eof,
    };
    if spawned.is_err() {
        return input;
    }
    let start = Instant::now();
    let mut overflow = false;
    loop {
        let left = deadline.saturating_sub(start.elapsed());
        if left.is_zero() {
            input.ending = if overflow {
                Ending::Overflow
            } else {
                Ending::Deadline
            };
            return input;
        }
        match rx.recv_timeout(left.min(silence)) {
            Ok(Msg::Chunk(c)) => {
                input.total += c.len();
                if overflow {
                    continue;
                }
                let room = cap.saturating_sub(input.bytes.len());
                let closes = c.iter().any(|b| *b == b'}' || *b == b']');
                input.bytes.extend_from_slice(&c[..c.len().min(room)]);
                if c.len() > room {
                    overflow = true;
                }
                if closes || overflow {
                    match first_value_end(&input.bytes) {
                        Some(Ok(end)) => {
                            input.ending = Ending::Complete(end);
                            return input;
                        }
                        Some(Err(())) => {
                            input.ending = Ending::Invalid;
                            if !overflow {
                                return input;
                            }
                        }
                        None => {}
                    }
                } else if starts_invalid(&input.bytes) {
                    input.ending = Ending::Invalid;
                    return input;
                }
            }
            Ok(Msg::End) | Err(mpsc::RecvTimeoutError::Disconnected) => {
                input.ending = if overflow {
                    Ending::Overflow
                } else {
                    match first_value_end(&input.bytes) {
                        Some(Ok(end)) => Ending::Complete(end),
                        Some(Err(())) => Ending::Invalid,
                        None => Ending::Eof,
                    }
                };
                return input;
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {
                if start.elapsed() >= deadline {
                    continue;
                }
                input.ending = if overflow {
                    Ending::Overflow
                } else {
                    Ending::Silence
                };
                return input;
            }
        }
    }
}

/// `Some(Ok(end))` when `bytes` starts with a complete JSON value, `Some(Err)` when it can never
/// become one, `None` when more bytes could complete it.
fn first_value_end(bytes: &[u8]) -> Option<Result<usize, ()>> {
    let mut it = serde_json::Deserializer::from_slice(bytes).into_iter::<serde::de::IgnoredAny>();
    match it.next() {
        Some(Ok(_)) => Some(Ok(it.byte_offset())),
        Some(Err(e)) if e.is_eof() => None,
        Some(Err(_)) => Some(Err(())),
        None => None,
    }
}

/// A hook event is a JSON object: anything else at the start is not worth waiting on.
fn starts_invalid(bytes: &[u8]) -> bool {
    bytes
        .iter()
        .find(|b| !b.is_ascii_whitespace())
        .is_some_and(|b| *b != b'{' && *b != b'[')
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    #[test]
    fn stops_at_the_first_value() {
        let i = read_bounded(Cursor::new(b"{\"a\":1} {\"b\":2}".to_vec()));
        assert_eq!(i.ending, Ending::Complete(7));
    }

    #[test]
    fn empty_and_truncated_inputs_end_cleanly() {
        assert_eq!(read_bounded(Cursor::new(Vec::new())).ending, Ending::Eof);
        assert_eq!(
            read_bounded(Cursor::new(b"{\"a\":".to_vec())).ending,
            Ending::Eof
        );
        assert_eq!(
            read_bounded(Cursor::new(b"\xff\xfe".to_vec())).ending,
            Ending::Invalid
        );
    }

    #[test]
    fn overflow_is_drained_and_reported() {
        let mut big = b"{\"s\":\"".to_vec();
        big.extend(std::iter::repeat_n(b'x', 3 * 1024 * 1024));
        let i = read_bounded(Cursor::new(big));
        assert_eq!(i.ending, Ending::Overflow);
        assert_eq!(i.bytes.len(), STDIN_CAP);
        assert!(i.total > 3 * 1024 * 1024);
    }

    struct Never;
    impl Read for Never {
        fn read(&mut self, _: &mut [u8]) -> std::io::Result<usize> {
            std::thread::sleep(Duration::from_secs(3600));
            Ok(0)
        }
    }

    #[test]
    fn silence_ends_the_read() {
        let t = Instant::now();
        let i = read_bounded(Never);
        assert_eq!(i.ending, Ending::Silence);
        assert!(t.elapsed() < Duration::from_secs(2));
    }
}

//! The hook's bounded read of stdin (DESIGN §9): stop at the end of the first complete JSON
//! value, or after ~300 ms of silence, or 400 ms after the read began; keep at most 1 MiB and
//! drain (read and discard) anything past it, so an agent writing a huge payload is never
//! blocked. Input that can never be an event is drained too, so the writer never meets a
//! closed pipe.
//!
//! Long strings are squeezed while reading ([`Squeeze`]): past [`STRING_KEEP`] bytes, the rest of
//! a string is dropped (`elided` counts it), so a 5 MB `Write` still parses into an event that
//! says which tool touched which file — only its content is cut.

use rustix::event::{PollFd, PollFlags, Timespec, poll};
use std::io::Read;
use std::os::fd::{AsFd, BorrowedFd};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// Bytes kept from stdin; anything past this is read and discarded.
pub const STDIN_CAP: usize = 1024 * 1024;
/// Stop waiting after this long without a byte.
pub const SILENCE: Duration = Duration::from_millis(300);
/// Stop reading after this long in any case.
pub const READ_DEADLINE: Duration = Duration::from_millis(400);
/// Bytes kept of any one JSON string; the rest of it is dropped while reading.
pub const STRING_KEEP: usize = 64 * 1024;

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
    /// Bytes dropped from strings longer than [`STRING_KEEP`] (the event's content is cut).
    pub elided: usize,
    pub ending: Ending,
}

/// Keeps a JSON text while dropping the tail of every string longer than [`STRING_KEEP`]; cuts
/// only between characters and never inside an escape, so what it keeps is still valid JSON.
#[derive(Debug, Default)]
pub struct Squeeze {
    in_str: bool,
    esc: bool,
    /// Hex digits still expected after `\u`.
    hex_left: u8,
    kept_in_str: usize,
    eliding: bool,
    pub elided: usize,
}

impl Squeeze {
    /// Appends the kept part of `chunk` to `out`.
    pub fn push(&mut self, chunk: &[u8], out: &mut Vec<u8>) {
        for &b in chunk {
            if !self.in_str {
                if b == b'"' {
                    self.in_str = true;
                    self.kept_in_str = 0;
                    self.eliding = false;
                }
                out.push(b);
                continue;
            }
            let at_boundary = !self.esc && self.hex_left == 0 && !(0x80..0xC0).contains(&b);
            if b == b'"' && at_boundary {
                self.in_str = false;
                out.push(b);
                continue;
            }
            if self.hex_left > 0 {
                self.hex_left -= 1;
            } else if self.esc {
                self.esc = false;
                if b == b'u' {
                    self.hex_left = 4;
                }
            } else if b == b'\\' {
                self.esc = true;
            }
            if !self.eliding && at_boundary && self.kept_in_str >= STRING_KEEP {
                self.eliding = true;
            }
            if self.eliding {
                self.elided += 1;
            } else {
                self.kept_in_str += 1;
                out.push(b);
            }
        }
    }
}

/// What one wait for input gave.
enum Next {
    Chunk(Vec<u8>),
    /// End of input (or a read error: nothing more will come).
    End,
    /// Nothing arrived within the wait.
    Quiet,
}

/// A source of input chunks that can be waited on with a bound.
trait Chunks {
    fn next(&mut self, wait: Duration) -> Next;
}

/// Any [`Read`] (tests, pipes without a descriptor): a reader thread feeds a channel. The thread
/// may stay blocked on an input the writer keeps open; the process exits without joining it.
struct Threaded(mpsc::Receiver<Next>);

impl Threaded {
    fn spawn<R: Read + Send + 'static>(mut src: R) -> Option<Self> {
        let (tx, rx) = mpsc::sync_channel::<Next>(16);
        std::thread::Builder::new()
            .name("hook-stdin".into())
            .spawn(move || {
                let mut buf = vec![0u8; 64 * 1024];
                loop {
                    let msg = match src.read(&mut buf) {
                        Ok(0) => Next::End,
                        Ok(n) => Next::Chunk(buf[..n].to_vec()),
                        Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                        Err(_) => Next::End,
                    };
                    let end = matches!(msg, Next::End);
                    if tx.send(msg).is_err() || end {
                        return;
                    }
                }
            })
            .ok()
            .map(|_| Threaded(rx))
    }
}

impl Chunks for Threaded {
    fn next(&mut self, wait: Duration) -> Next {
        match self.0.recv_timeout(wait) {
            Ok(n) => n,
            Err(mpsc::RecvTimeoutError::Timeout) => Next::Quiet,
            Err(mpsc::RecvTimeoutError::Disconnected) => Next::End,
        }
    }
}

/// A file descriptor waited on with `poll(2)` on the calling thread: no thread to start, which
/// is a quarter of a millisecond of every hook run.
struct Polled<'a> {
    fd: BorrowedFd<'a>,
    buf: Vec<u8>,
}

impl Chunks for Polled<'_> {
    fn next(&mut self, wait: Duration) -> Next {
        let until = Instant::now() + wait;
        loop {
            let left = until.saturating_duration_since(Instant::now());
            let timeout = Timespec {
                tv_sec: left.as_secs() as _,
                tv_nsec: left.subsec_nanos() as _,
            };
            let mut fds = [PollFd::new(&self.fd, PollFlags::IN)];
            match poll(&mut fds, Some(&timeout)) {
                Ok(0) => return Next::Quiet,
                Ok(_) => {}
                Err(rustix::io::Errno::INTR) => continue,
                Err(_) => return Next::End,
            }
            match rustix::io::read(self.fd, &mut self.buf[..]) {
                Ok(0) => return Next::End,
                Ok(n) => return Next::Chunk(self.buf[..n].to_vec()),
                Err(rustix::io::Errno::INTR | rustix::io::Errno::AGAIN) => continue,
                Err(_) => return Next::End,
            }
        }
    }
}

/// Reads one event from the process's stdin within the bounds above, on this thread.
pub fn read_stdin() -> Input {
    let stdin = std::io::stdin();
    let mut src = Polled {
        fd: stdin.as_fd(),
        buf: vec![0u8; 64 * 1024],
    };
    drive(&mut src, SILENCE, READ_DEADLINE, STDIN_CAP)
}

/// Reads one event from `src` within the bounds above.
pub fn read_bounded<R: Read + Send + 'static>(src: R) -> Input {
    read_bounded_with(src, SILENCE, READ_DEADLINE, STDIN_CAP)
}

/// [`read_bounded`] with explicit bounds (tests).
pub fn read_bounded_with<R: Read + Send + 'static>(
    src: R,
    silence: Duration,
    deadline: Duration,
    cap: usize,
) -> Input {
    match Threaded::spawn(src) {
        Some(mut t) => drive(&mut t, silence, deadline, cap),
        None => Input {
            bytes: Vec::new(),
            total: 0,
            elided: 0,
            ending: Ending::Eof,
        },
    }
}

/// The bounded read itself, over any source of chunks.
fn drive(src: &mut impl Chunks, silence: Duration, deadline: Duration, cap: usize) -> Input {
    let mut input = Input {
        bytes: Vec::new(),
        total: 0,
        elided: 0,
        ending: Ending::Eof,
    };
    let start = Instant::now();
    let mut overflow = false;
    // The input can never be an event: keep draining (bounded) so the writer sees no EPIPE.
    let mut invalid = false;
    let mut squeeze = Squeeze::default();
    loop {
        let left = deadline.saturating_sub(start.elapsed());
        if left.is_zero() {
            input.ending = if invalid {
                Ending::Invalid
            } else if overflow {
                Ending::Overflow
            } else {
                Ending::Deadline
            };
            return input;
        }
        match src.next(left.min(silence)) {
            Next::Chunk(c) => {
                input.total += c.len();
                if overflow || invalid {
                    continue;
                }
                let before = input.bytes.len();
                squeeze.push(&c, &mut input.bytes);
                input.elided = squeeze.elided;
                let closes = input.bytes[before..]
                    .iter()
                    .any(|b| *b == b'}' || *b == b']');
                if input.bytes.len() > cap {
                    input.bytes.truncate(cap);
                    overflow = true;
                }
                if closes || overflow {
                    match first_value_end(&input.bytes) {
                        Some(Ok(end)) => {
                            input.ending = Ending::Complete(end);
                            return input;
                        }
                        Some(Err(())) => invalid = !overflow,
                        None => {}
                    }
                } else if starts_invalid(&input.bytes) {
                    invalid = true;
                }
            }
            Next::End => {
                input.ending = if invalid {
                    Ending::Invalid
                } else if overflow {
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
            Next::Quiet => {
                if start.elapsed() >= deadline {
                    continue;
                }
                input.ending = if invalid {
                    Ending::Invalid
                } else if overflow {
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
        // Not strings: nothing to squeeze.
        let mut big = b"{\"s\":[".to_vec();
        for _ in 0..600_000 {
            big.extend_from_slice(b"1234,");
        }
        let i = read_bounded(Cursor::new(big));
        assert_eq!(i.ending, Ending::Overflow);
        assert_eq!(i.bytes.len(), STDIN_CAP);
        assert!(i.total > 2 * 1024 * 1024);
    }

    #[test]
    fn long_strings_are_squeezed_into_a_complete_event() {
        let mut big = b"{\"tool_input\":{\"file_path\":\"/p/src/a.rs\",\"content\":\"".to_vec();
        big.extend(std::iter::repeat_n("é\\u00e9\\n".as_bytes(), 300_000).flatten());
        big.extend_from_slice(b"\"},\"tool_use_id\":\"t1\"}");
        let total = big.len();
        let i = read_bounded(Cursor::new(big));
        let Ending::Complete(end) = i.ending else {
            panic!("{:?}", i.ending)
        };
        let v: serde_json::Value = serde_json::from_slice(&i.bytes[..end]).unwrap();
        assert_eq!(v["tool_use_id"], "t1");
        assert_eq!(v["tool_input"]["file_path"], "/p/src/a.rs");
        let kept = v["tool_input"]["content"].as_str().unwrap();
        assert!(kept.len() < STRING_KEEP && kept.starts_with("éé\n"));
        assert_eq!(i.total, total);
        assert!(i.elided > 2_000_000);
    }

    #[test]
    fn squeezing_never_cuts_an_escape() {
        for tail in ["\\u00e9", "\\\"", "\\\\", "é"] {
            let mut s = Vec::from(&b"[\""[..]);
            s.extend(std::iter::repeat_n(b'a', STRING_KEEP - 1));
            s.extend(tail.repeat(4).as_bytes());
            s.extend_from_slice(b"\"]");
            let mut out = Vec::new();
            Squeeze::default().push(&s, &mut out);
            let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
            assert!(v[0].as_str().unwrap().len() <= STRING_KEEP + 4, "{tail}");
        }
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

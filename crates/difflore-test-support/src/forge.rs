//! A local HTTP server that replays GitHub REST and GitLab v4 answers (or an OpenAI-compatible
//! chat API's) in their documented formats, with scripted faults (rate limits, 502s, permanent
//! failures, slow answers) and a request log. A handler sees the request body as the
//! pseudo-header `:body`.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

/// One answer: status, extra headers, body.
pub type Answer = (u16, Vec<(String, String)>, String);
/// Route handler: (path, query params, headers) → answer.
pub type Handler =
    dyn Fn(&str, &HashMap<String, String>, &HashMap<String, String>) -> Answer + Send + Sync;

pub struct Forge {
    pub url: String,
    pub log: Arc<Mutex<Vec<String>>>,
    handler: Arc<Mutex<Arc<Handler>>>,
}

impl Forge {
    pub fn start(h: Arc<Handler>) -> Forge {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", l.local_addr().unwrap());
        let log = Arc::new(Mutex::new(Vec::new()));
        let handler = Arc::new(Mutex::new(h));
        let (lg, hd) = (log.clone(), handler.clone());
        std::thread::spawn(move || {
            for s in l.incoming().flatten() {
                let (lg, hd) = (lg.clone(), hd.clone());
                std::thread::spawn(move || {
                    let mut r = BufReader::new(s.try_clone().unwrap());
                    let mut w = s;
                    let _ = w.set_nodelay(true);
                    loop {
                        let mut line = String::new();
                        if r.read_line(&mut line).unwrap_or(0) == 0 {
                            return;
                        }
                        let target = line.split_whitespace().nth(1).unwrap_or("/").to_string();
                        let mut headers = HashMap::new();
                        let mut len = 0;
                        loop {
                            let mut h = String::new();
                            if r.read_line(&mut h).unwrap_or(0) == 0 || h.trim().is_empty() {
                                break;
                            }
                            if let Some((k, v)) = h.split_once(':') {
                                let k = k.trim().to_ascii_lowercase();
                                if k == "content-length" {
                                    len = v.trim().parse().unwrap_or(0);
                                }
                                headers.insert(k, v.trim().to_string());
                            }
                        }
                        let mut body = vec![0; len];
                        let _ = r.read_exact(&mut body);
                        headers.insert(
                            ":body".to_string(),
                            String::from_utf8_lossy(&body).into_owned(),
                        );
                        lg.lock().unwrap().push(target.clone());
                        let (path, q) = target.split_once('?').unwrap_or((&target, ""));
                        let query: HashMap<String, String> = q
                            .split('&')
                            .filter_map(|kv| kv.split_once('='))
                            .map(|(k, v)| (k.to_string(), v.replace("%3A", ":")))
                            .collect();
                        let h = hd.lock().unwrap().clone();
                        let (status, extra, text) = h(path, &query, &headers);
                        let mut head = format!(
                            "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\n",
                            text.len()
                        );
                        for (k, v) in extra {
                            head.push_str(&format!("{k}: {v}\r\n"));
                        }
                        head.push_str("\r\n");
                        if w.write_all(head.as_bytes()).is_err()
                            || w.write_all(text.as_bytes()).is_err()
                        {
                            return;
                        }
                    }
                });
            }
        });
        Forge { url, log, handler }
    }

    pub fn set(&self, h: Arc<Handler>) {
        *self.handler.lock().unwrap() = h;
    }

    pub fn requests(&self) -> Vec<String> {
        self.log.lock().unwrap().clone()
    }

    pub fn clear_log(&self) {
        self.log.lock().unwrap().clear();
    }
}

pub fn ok(body: String) -> Answer {
    (200, Vec::new(), body)
}

/// Minute `m` after a fixed epoch, as RFC 3339.
pub fn at(m: i64) -> String {
    let t = time::OffsetDateTime::from_unix_timestamp(1_760_000_000 + m * 60).unwrap();
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap()
}

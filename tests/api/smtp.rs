//! A real SMTP server for the tests: aiosmtpd (PyPI) writing every message it accepts to a maildir.
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

pub struct SmtpServer {
    pub port: u16,
    child: Child,
    dir: tempfile::TempDir,
}

/// A port nothing listens on right now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl SmtpServer {
    pub async fn start() -> Self {
        Self::start_on(free_port()).await
    }

    pub async fn start_on(port: u16) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let maildir = dir.path().join("mail");
        let mut child = Command::new("python3")
            .args([
                "-m",
                "aiosmtpd",
                "-n",
                "-l",
                &format!("127.0.0.1:{port}"),
                "-c",
                "aiosmtpd.handlers.Mailbox",
            ])
            .arg(&maildir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("python3 with aiosmtpd must be installed (scripts/test-all installs it)");
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return SmtpServer { port, child, dir };
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let _ = child.kill();
        let _ = child.wait();
        panic!("aiosmtpd did not start on port {port}");
    }

    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    /// The raw messages received so far.
    pub fn messages(&self) -> Vec<String> {
        let new: PathBuf = self.dir.path().join("mail").join("new");
        let Ok(entries) = std::fs::read_dir(new) else {
            return vec![];
        };
        entries
            .filter_map(|e| std::fs::read_to_string(e.ok()?.path()).ok())
            .collect()
    }

    /// The messages received so far as a mail program shows them: recipient, subject and plain
    /// text, decoded from their transfer encoding by Python's `email` package.
    pub fn decoded(&self) -> Vec<Delivered> {
        let new: PathBuf = self.dir.path().join("mail").join("new");
        let Ok(entries) = std::fs::read_dir(new) else {
            return vec![];
        };
        let files: Vec<PathBuf> = entries.filter_map(|e| Some(e.ok()?.path())).collect();
        let out = Command::new("python3")
            .args(["-c", DECODE])
            .args(&files)
            .output()
            .expect("python3");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).expect("decoded mail")
    }

    /// Waits up to 15 s for at least `n` messages.
    pub async fn wait_for(&self, n: usize) -> Vec<String> {
        for _ in 0..150 {
            let m = self.messages();
            if m.len() >= n {
                return m;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("expected {n} messages, got {}", self.messages().len());
    }
}

/// A message as its recipient reads it.
#[derive(Debug, serde::Deserialize)]
pub struct Delivered {
    pub to: String,
    pub subject: String,
    pub text: String,
}

const DECODE: &str = r#"
import email, json, sys
from email import policy
out = []
for path in sys.argv[1:]:
    with open(path, 'rb') as f:
        m = email.message_from_binary_file(f, policy=policy.default)
    out.append({'to': str(m['To']), 'subject': str(m['Subject']),
                'text': m.get_body(preferencelist=('plain',)).get_content()})
print(json.dumps(out))
"#;

impl Drop for SmtpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

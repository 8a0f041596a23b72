//! `insyn bench intake`: requests per second and latency of `POST /api/v1/requests` at N
//! concurrent keep-alive connections, beside `GET /healthz` of the same server in the same run.
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

pub struct Load {
    pub requests: u64,
    pub per_sec: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub failures: u64,
}

pub struct Report {
    pub intake: Load,
    pub hello: Load,
}

/// Sends one HTTP/1.1 request on a kept-alive connection and reads the answer; the status.
async fn exchange(conn: &mut BufReader<TcpStream>, request: &[u8]) -> std::io::Result<u16> {
    conn.get_mut().write_all(request).await?;
    let mut line = String::new();
    conn.read_line(&mut line).await?;
    let status: u16 = line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let mut length = 0usize;
    loop {
        line.clear();
        conn.read_line(&mut line).await?;
        let l = line.trim_end();
        if l.is_empty() {
            break;
        }
        if let Some((k, v)) = l.split_once(':')
            && k.eq_ignore_ascii_case("content-length")
        {
            length = v.trim().parse().unwrap_or(0);
        }
    }
    let mut body = vec![0u8; length];
    conn.read_exact(&mut body).await?;
    Ok(status)
}

async fn load(
    addr: std::net::SocketAddr,
    connections: u64,
    total: u64,
    expect: u16,
    make: impl Fn(u64) -> Vec<u8> + Send + Sync + Clone + 'static,
) -> anyhow::Result<Load> {
    let started = Instant::now();
    let mut tasks = vec![];
    for c in 0..connections {
        let make = make.clone();
        tasks.push(tokio::spawn(async move {
            let mut conn = BufReader::new(TcpStream::connect(addr).await?);
            let mut times = vec![];
            let mut failures = 0u64;
            let mut i = c;
            while i < total {
                let req = make(i);
                let t = Instant::now();
                let status = exchange(&mut conn, &req).await?;
                times.push(t.elapsed());
                if status != expect {
                    failures += 1;
                }
                i += connections;
            }
            anyhow::Ok((times, failures))
        }));
    }
    let mut times: Vec<Duration> = vec![];
    let mut failures = 0;
    for t in tasks {
        let (ts, f) = t.await??;
        times.extend(ts);
        failures += f;
    }
    let elapsed = started.elapsed().as_secs_f64();
    times.sort_unstable();
    let pct = |p: f64| {
        times
            .get(((times.len() as f64 * p) as usize).min(times.len().saturating_sub(1)))
            .map_or(0.0, |d| d.as_secs_f64() * 1000.0)
    };
    Ok(Load {
        requests: times.len() as u64,
        per_sec: times.len() as f64 / elapsed,
        p50_ms: pct(0.50),
        p99_ms: pct(0.99),
        failures,
    })
}

/// Serves the real app on a free port over `settings` and loads it.
pub async fn run(
    mut settings: crate::config::Settings,
    requests: u64,
    connections: u64,
) -> anyhow::Result<Report> {
    // The budget guards the public against one address; the benchmark is one address.
    settings.public_rate_limit = u32::MAX;
    settings.smtp_url = None;
    let state = crate::app::prepare(settings).await?;
    let (acceptor, addr) = crate::app::bind("127.0.0.1:0").await?;
    tokio::spawn(crate::app::serve(state, acceptor, std::future::pending()));
    let host = addr.to_string();
    let hello = {
        let host = host.clone();
        move |_| format!("GET /healthz HTTP/1.1\r\nHost: {host}\r\n\r\n").into_bytes()
    };
    // Warm both paths, then measure.
    load(addr, connections, connections * 4, 200, hello.clone()).await?;
    let hello = load(addr, connections, requests, 200, hello).await?;
    let run_id: u32 = rand::random();
    let intake = move |i: u64| {
        let body = serde_json::json!({
            "type": "access",
            "email": format!("bench{run_id}-{i}@example.se"),
            "identities": [{"platform": "facebook", "value": format!("{i}")}],
        })
        .to_string();
        format!(
            "POST /api/v1/requests HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
        .into_bytes()
    };
    let intake = load(addr, connections, requests, 202, intake).await?;
    Ok(Report { intake, hello })
}

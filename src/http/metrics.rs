//! Prometheus metrics: request counts and latencies per route template (the OpenAPI operation id),
//! so that no id, name or address in a path ever becomes a label.
use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::time::Duration;

const BUCKETS: [f64; 11] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

#[derive(Default)]
struct Series {
    count: u64,
    sum: f64,
    buckets: [u64; BUCKETS.len()],
}

#[derive(Default)]
pub struct Metrics {
    series: Mutex<BTreeMap<(String, String, u16), Series>>,
    intake: Mutex<IntakeCounts>,
}

/// Intake's batches: submissions over batches is the mean batch size.
#[derive(Default)]
struct IntakeCounts {
    batches: u64,
    submissions: u64,
    failed_batches: u64,
}

impl Metrics {
    pub fn observe(&self, route: &str, method: &str, status: u16, elapsed: Duration) {
        let secs = elapsed.as_secs_f64();
        let mut map = self.series.lock().unwrap_or_else(|p| p.into_inner());
        let s = map
            .entry((route.to_owned(), method.to_owned(), status))
            .or_default();
        s.count += 1;
        s.sum += secs;
        for (i, le) in BUCKETS.iter().enumerate() {
            if secs <= *le {
                s.buckets[i] += 1;
            }
        }
    }

    /// One intake batch of `size` submissions written, or failed as a whole (its submissions are
    /// then taken in one at a time, each counted as a batch of its own).
    pub fn observe_intake(&self, size: usize, failed: bool) {
        let mut c = self.intake.lock().unwrap_or_else(|p| p.into_inner());
        if failed {
            c.failed_batches += 1;
        } else {
            c.batches += 1;
            c.submissions += size as u64;
        }
    }

    /// The Prometheus text exposition format.
    pub fn render(&self) -> String {
        let map = self.series.lock().unwrap_or_else(|p| p.into_inner());
        let mut out = String::new();
        out.push_str("# HELP insyn_http_requests_total HTTP requests served, by route template, method and status.\n");
        out.push_str("# TYPE insyn_http_requests_total counter\n");
        for ((route, method, status), s) in map.iter() {
            let _ = writeln!(
                out,
                "insyn_http_requests_total{{route=\"{route}\",method=\"{method}\",status=\"{status}\"}} {}",
                s.count
            );
        }
        out.push_str("# HELP insyn_http_request_duration_seconds Time to serve a request.\n");
        out.push_str("# TYPE insyn_http_request_duration_seconds histogram\n");
        let mut merged: BTreeMap<(&str, &str), Series> = BTreeMap::new();
        for ((route, method, _), s) in map.iter() {
            let m = merged.entry((route.as_str(), method.as_str())).or_default();
            m.count += s.count;
            m.sum += s.sum;
            for i in 0..BUCKETS.len() {
                m.buckets[i] += s.buckets[i];
            }
        }
        for ((route, method), s) in merged {
            let labels = format!("route=\"{route}\",method=\"{method}\"");
            for (i, le) in BUCKETS.iter().enumerate() {
                let _ = writeln!(
                    out,
                    "insyn_http_request_duration_seconds_bucket{{{labels},le=\"{le}\"}} {}",
                    s.buckets[i]
                );
            }
            let _ = writeln!(
                out,
                "insyn_http_request_duration_seconds_bucket{{{labels},le=\"+Inf\"}} {}",
                s.count
            );
            let _ = writeln!(
                out,
                "insyn_http_request_duration_seconds_sum{{{labels}}} {}",
                s.sum
            );
            let _ = writeln!(
                out,
                "insyn_http_request_duration_seconds_count{{{labels}}} {}",
                s.count
            );
        }
        let c = self.intake.lock().unwrap_or_else(|p| p.into_inner());
        for (name, help, value) in [
            (
                "insyn_intake_batches_total",
                "Intake transactions committed.",
                c.batches,
            ),
            (
                "insyn_intake_submissions_total",
                "Submissions taken in by those transactions.",
                c.submissions,
            ),
            (
                "insyn_intake_failed_batches_total",
                "Intake batches that failed whole and were taken in one by one.",
                c.failed_batches,
            ),
        ] {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} counter\n{name} {value}"
            );
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_and_buckets() {
        let m = Metrics::default();
        m.observe("list_audit", "GET", 200, Duration::from_millis(3));
        m.observe("list_audit", "GET", 200, Duration::from_millis(30));
        m.observe("list_audit", "GET", 403, Duration::from_millis(1));
        let text = m.render();
        assert!(text.contains(
            "insyn_http_requests_total{route=\"list_audit\",method=\"GET\",status=\"200\"} 2"
        ));
        assert!(text.contains(
            "insyn_http_requests_total{route=\"list_audit\",method=\"GET\",status=\"403\"} 1"
        ));
        assert!(text.contains("insyn_http_request_duration_seconds_bucket{route=\"list_audit\",method=\"GET\",le=\"0.005\"} 2"));
        assert!(text.contains(
            "insyn_http_request_duration_seconds_count{route=\"list_audit\",method=\"GET\"} 3"
        ));
    }

    #[test]
    fn intake_batches_and_their_submissions() {
        let m = Metrics::default();
        m.observe_intake(40, false);
        m.observe_intake(3, true);
        m.observe_intake(1, false);
        let text = m.render();
        assert!(text.contains("insyn_intake_batches_total 2\n"), "{text}");
        assert!(
            text.contains("insyn_intake_submissions_total 41\n"),
            "{text}"
        );
        assert!(
            text.contains("insyn_intake_failed_batches_total 1\n"),
            "{text}"
        );
    }
}

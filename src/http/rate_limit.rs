//! A fixed-window budget per client address for the public endpoints. In memory, per instance:
//! enough to blunt abuse of intake and codes; a shared limit belongs in the proxy in front.
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

pub struct RateLimiter {
    budget: u32,
    window: Duration,
    seen: Mutex<HashMap<IpAddr, (Instant, u32)>>,
}

impl RateLimiter {
    pub fn new(budget: u32, window: Duration) -> Self {
        RateLimiter {
            budget,
            window,
            seen: Mutex::new(HashMap::new()),
        }
    }

    /// Counts a call from `addr`; `Err(seconds)` to wait when the budget is spent.
    pub fn check(&self, addr: Option<IpAddr>) -> Result<(), u64> {
        let Some(addr) = addr else { return Ok(()) };
        let now = Instant::now();
        let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        if seen.len() > 100_000 {
            seen.retain(|_, (start, _)| now.duration_since(*start) < self.window);
        }
        let entry = seen.entry(addr).or_insert((now, 0));
        if now.duration_since(entry.0) >= self.window {
            *entry = (now, 0);
        }
        if entry.1 >= self.budget {
            let left = self.window.saturating_sub(now.duration_since(entry.0));
            return Err(left.as_secs().max(1));
        }
        entry.1 += 1;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_budget_is_per_address_and_per_window() {
        let l = RateLimiter::new(2, Duration::from_secs(60));
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        let b: IpAddr = "10.0.0.2".parse().unwrap();
        assert!(l.check(Some(a)).is_ok());
        assert!(l.check(Some(a)).is_ok());
        let wait = l.check(Some(a)).unwrap_err();
        assert!((1..=60).contains(&wait));
        assert!(l.check(Some(b)).is_ok());
        let l = RateLimiter::new(1, Duration::from_millis(1));
        assert!(l.check(Some(a)).is_ok());
        std::thread::sleep(Duration::from_millis(5));
        assert!(l.check(Some(a)).is_ok());
    }
}

//! A fixed-window budget per client for the public endpoints. In memory, per instance: enough to
//! blunt abuse of intake and codes; a shared limit belongs in the proxy in front.
//!
//! A client is its address as the connection shows it, or, when the connection comes from a
//! trusted proxy, as the proxy's `X-Forwarded-For` names it. An IPv6 client is its /64: one host
//! is handed a whole /64, and would otherwise have a budget per address in it.
use std::collections::HashMap;
use std::net::{IpAddr, Ipv6Addr};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// At most this many clients are remembered: past it, windows that ran out are forgotten, then
/// the oldest half, so that a flood of addresses cannot grow the map without bound.
const MAX_CLIENTS: usize = 100_000;

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

    /// Counts a call from `client` (see [`client_of`]); `Err(seconds)` to wait when its budget is
    /// spent.
    pub fn check(&self, client: Option<IpAddr>) -> Result<(), u64> {
        let Some(client) = client.map(key) else {
            return Ok(());
        };
        let now = Instant::now();
        let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        if seen.len() >= MAX_CLIENTS && !seen.contains_key(&client) {
            seen.retain(|_, (start, _)| now.duration_since(*start) < self.window);
            if seen.len() >= MAX_CLIENTS {
                let mut starts: Vec<Instant> = seen.values().map(|(s, _)| *s).collect();
                let middle = starts.len() / 2;
                let (_, cut, _) = starts.select_nth_unstable(middle);
                let cut = *cut;
                seen.retain(|_, (start, _)| *start > cut);
            }
        }
        let entry = seen.entry(client).or_insert((now, 0));
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

    #[cfg(test)]
    fn remembered(&self) -> usize {
        self.seen.lock().map(|s| s.len()).unwrap_or(0)
    }
}

/// What a client is counted by: an IPv4 address (also when written as IPv4-mapped IPv6), or an
/// IPv6 address's /64.
fn key(addr: IpAddr) -> IpAddr {
    match addr.to_canonical() {
        IpAddr::V6(v6) => {
            let s = v6.segments();
            IpAddr::V6(Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
        }
        v4 => v4,
    }
}

/// The client of a call: the connection's peer, unless the peer is one of `trusted` proxies; then
/// the last address in `X-Forwarded-For` that is not a trusted proxy (`trusted` in canonical form,
/// as [`crate::config::Settings::proxies`] gives them) (the one the nearest
/// untrusted hop added: earlier entries are the client's own say, and it may say anything).
pub fn client_of(
    peer: Option<IpAddr>,
    forwarded_for: Option<&str>,
    trusted: &[IpAddr],
) -> Option<IpAddr> {
    // A listener on `[::]` sees an IPv4 peer as IPv4-mapped IPv6: compared as what it is.
    let peer = peer?.to_canonical();
    let trusts = |a: &IpAddr| trusted.contains(a);
    if !trusts(&peer) {
        return Some(peer);
    }
    let Some(chain) = forwarded_for else {
        return Some(peer);
    };
    for hop in chain.rsplit(',') {
        match hop_address(hop.trim()) {
            Some(addr) if trusts(&addr) => continue,
            Some(addr) => return Some(addr),
            // A hop that is not an address cannot be counted; the proxy that passed it on can.
            None => return Some(peer),
        }
    }
    Some(peer)
}

/// A hop of `X-Forwarded-For` as an address: bare, or with a port as some gateways write it
/// (`203.0.113.5:4711`, `[2001:db8::1]:443`).
fn hop_address(hop: &str) -> Option<IpAddr> {
    if let Ok(a) = hop.parse::<IpAddr>() {
        return Some(a.to_canonical());
    }
    hop.parse::<std::net::SocketAddr>()
        .ok()
        .map(|s| s.ip().to_canonical())
}

/// [`client_of`] for a poem request.
pub fn client_of_request(req: &poem::Request, trusted: &[IpAddr]) -> Option<IpAddr> {
    let peer = req.remote_addr().as_socket_addr().map(|a| a.ip());
    let forwarded: Vec<&str> = req
        .headers()
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect();
    client_of(
        peer,
        Some(&forwarded.join(","))
            .filter(|f| !f.is_empty())
            .map(String::as_str),
        trusted,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn the_budget_is_per_address_and_per_window() {
        let l = RateLimiter::new(2, Duration::from_secs(60));
        let (a, b) = (ip("10.0.0.1"), ip("10.0.0.2"));
        assert!(l.check(Some(a)).is_ok());
        assert!(l.check(Some(a)).is_ok());
        let wait = l.check(Some(a)).unwrap_err();
        assert!((1..=60).contains(&wait));
        assert!(l.check(Some(b)).is_ok());
        // The same host as IPv4-mapped IPv6 shares the budget.
        assert!(l.check(Some(ip("::ffff:10.0.0.1"))).is_err());
        let l = RateLimiter::new(1, Duration::from_millis(1));
        assert!(l.check(Some(a)).is_ok());
        std::thread::sleep(Duration::from_millis(5));
        assert!(l.check(Some(a)).is_ok());
    }

    #[test]
    fn an_ipv6_host_is_counted_by_its_64() {
        let l = RateLimiter::new(1, Duration::from_secs(60));
        assert!(l.check(Some(ip("2001:db8:1:2::1"))).is_ok());
        assert!(l.check(Some(ip("2001:db8:1:2:ffff::9"))).is_err());
        assert!(l.check(Some(ip("2001:db8:1:3::1"))).is_ok());
    }

    #[test]
    fn the_clients_remembered_stay_bounded() {
        let l = RateLimiter::new(1, Duration::from_secs(600));
        for n in 0..(MAX_CLIENTS as u32 + 10) {
            let _ = l.check(Some(IpAddr::V4(n.into())));
        }
        assert!(l.remembered() <= MAX_CLIENTS, "{}", l.remembered());
        assert!(l.remembered() > MAX_CLIENTS / 4);
    }

    #[test]
    fn a_trusted_proxy_names_the_client() {
        let proxy = ip("10.0.0.9");
        let trusted = [proxy];
        // Not from the proxy: the peer, whatever the header says.
        assert_eq!(
            client_of(Some(ip("203.0.113.5")), Some("198.51.100.1"), &trusted),
            Some(ip("203.0.113.5"))
        );
        // From the proxy: the last hop it did not add itself; what the client wrote before is
        // not believed.
        assert_eq!(
            client_of(
                Some(proxy),
                Some("1.2.3.4, 198.51.100.7, 10.0.0.9"),
                &trusted
            ),
            Some(ip("198.51.100.7"))
        );
        assert_eq!(client_of(Some(proxy), None, &trusted), Some(proxy));
        // The proxy as a listener on [::] sees it, and hops written with ports.
        assert_eq!(
            client_of(
                Some(ip("::ffff:10.0.0.9")),
                Some("198.51.100.7:4711"),
                &trusted
            ),
            Some(ip("198.51.100.7"))
        );
        assert_eq!(
            client_of(Some(proxy), Some("[2001:db8::1]:443"), &trusted),
            Some(ip("2001:db8::1"))
        );
        assert_eq!(
            client_of(Some(proxy), Some("nonsense"), &trusted),
            Some(proxy)
        );
    }
}

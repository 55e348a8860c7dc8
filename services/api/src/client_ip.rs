//! The client address the per-IP rate limit keys on (`CLIENT_IP_SOURCE`).
//!
//! Behind CloudFront and App Runner two proxies stand in front of the api, and
//! the TCP peer is App Runner's. A client controls every header it sends, so
//! only what the proxies wrote counts: CloudFront's `CloudFront-Viewer-Address`
//! (set by CloudFront, not passed through from the viewer), or the entry of
//! `X-Forwarded-For` that the outermost trusted proxy appended, counted from
//! the right. Entries a client prepends lie further left and are never read.

use std::net::{IpAddr, Ipv6Addr, SocketAddr};

use axum::http::HeaderMap;

use crate::config::ClientIpSource;

pub const CLOUDFRONT_VIEWER_ADDRESS: &str = "cloudfront-viewer-address";

/// The address to limit. When the configured header is absent or unreadable,
/// the TCP peer: the proxy's address, shared by all its clients, which is
/// stricter, never looser.
pub fn client_ip(source: ClientIpSource, headers: &HeaderMap, peer: SocketAddr) -> IpAddr {
    let found = match source {
        ClientIpSource::Peer => None,
        ClientIpSource::ForwardedFor { trusted_hops } => forwarded_for(headers, trusted_hops),
        ClientIpSource::CloudFrontViewerAddress => headers
            .get_all(CLOUDFRONT_VIEWER_ADDRESS)
            .iter()
            .next_back()
            .and_then(|v| v.to_str().ok())
            .and_then(parse_viewer_address),
    };
    found.unwrap_or_else(|| peer.ip())
}

/// The key of the rate-limit bucket: an IPv6 client is its /64, the block one
/// subscriber holds and can rotate addresses in at will.
pub fn bucket_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(Ipv6Addr::from(
                u128::from(v6) & 0xffff_ffff_ffff_ffff_0000_0000_0000_0000,
            )),
        },
        v4 => v4,
    }
}

/// The `trusted_hops`-th entry from the right of all `X-Forwarded-For` lines
/// taken together (a proxy may add a line instead of extending one). With
/// fewer entries than trusted proxies, every entry was written by one of them,
/// and the leftmost is the farthest address they saw.
fn forwarded_for(headers: &HeaderMap, trusted_hops: usize) -> Option<IpAddr> {
    let mut entries: Vec<&str> = Vec::new();
    for line in headers.get_all("x-forwarded-for") {
        entries.extend(line.to_str().ok()?.split(',').map(str::trim));
    }
    let index = entries.len().saturating_sub(trusted_hops);
    entries
        .get(index)
        .and_then(|entry| parse_forwarded_entry(entry))
}

/// An `X-Forwarded-For` entry: an address, possibly with a port (as some
/// load balancers write it: `ip:port`, `[v6]:port`).
fn parse_forwarded_entry(entry: &str) -> Option<IpAddr> {
    entry.parse().ok().or_else(|| {
        entry
            .parse::<SocketAddr>()
            .ok()
            .map(|addr| addr.ip())
            .or_else(|| parse_viewer_address(entry))
    })
}

/// `CloudFront-Viewer-Address`: `198.51.100.10:46532`, or for IPv6 the address
/// and port joined by a colon without brackets (`2001:db8::1:46532`);
/// brackets are accepted too. The port always comes last, so it is cut at the
/// last colon before the address is read.
fn parse_viewer_address(value: &str) -> Option<IpAddr> {
    let (address, port) = value.trim().rsplit_once(':')?;
    if port.is_empty() || !port.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let address = address
        .strip_prefix('[')
        .and_then(|a| a.strip_suffix(']'))
        .unwrap_or(address);
    address.parse().ok()
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    const PEER: &str = "10.0.0.9:41000";

    /// Headers sent, and the address expected.
    type Case<'a> = (
        ClientIpSource,
        &'a [(&'static str, &'static str)],
        &'static str,
    );

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn resolve(source: ClientIpSource, headers: &[(&'static str, &str)]) -> IpAddr {
        let mut map = HeaderMap::new();
        for (name, value) in headers {
            map.append(*name, HeaderValue::from_str(value).unwrap());
        }
        client_ip(source, &map, PEER.parse().unwrap())
    }

    #[test]
    fn forwarded_for_reads_the_entry_of_the_outermost_trusted_proxy() {
        let two = ClientIpSource::ForwardedFor { trusted_hops: 2 };
        let one = ClientIpSource::ForwardedFor { trusted_hops: 1 };
        let xff = "x-forwarded-for";
        let cases: &[Case] = &[
            // viewer → CloudFront (appends viewer) → App Runner (appends edge)
            (two, &[(xff, "203.0.113.7, 130.176.1.1")], "203.0.113.7"),
            // the same viewer prepending forged entries changes nothing
            (
                two,
                &[(xff, "1.2.3.4, 5.6.7.8, 203.0.113.7, 130.176.1.1")],
                "203.0.113.7",
            ),
            // one proxy: the rightmost
            (one, &[(xff, "1.2.3.4, 198.51.100.2")], "198.51.100.2"),
            // lines are one list, in order
            (
                two,
                &[(xff, "1.2.3.4, 203.0.113.7"), (xff, "130.176.1.1")],
                "203.0.113.7",
            ),
            // fewer entries than proxies: the farthest one they saw
            (two, &[(xff, "203.0.113.7")], "203.0.113.7"),
            // ports as some load balancers write them
            (
                two,
                &[(xff, "203.0.113.7:5111, 130.176.1.1")],
                "203.0.113.7",
            ),
            (
                two,
                &[(xff, "[2001:db8::7]:5111, 130.176.1.1")],
                "2001:db8::7",
            ),
            // garbage where a proxy's entry should be: the peer
            (two, &[(xff, "unknown, 130.176.1.1")], "10.0.0.9"),
            (two, &[], "10.0.0.9"),
            // the peer source ignores headers entirely
            (ClientIpSource::Peer, &[(xff, "1.2.3.4")], "10.0.0.9"),
        ];
        for (source, headers, expected) in cases {
            assert_eq!(resolve(*source, headers), ip(expected), "{headers:?}");
        }
    }

    #[test]
    fn cloudfront_viewer_address_is_ip_then_port() {
        let cf = ClientIpSource::CloudFrontViewerAddress;
        let h = CLOUDFRONT_VIEWER_ADDRESS;
        let cases: &[(&[(&str, &str)], &str)] = &[
            (&[(h, "198.51.100.10:46532")], "198.51.100.10"),
            (&[(h, "2001:db8::1:46532")], "2001:db8::1"),
            (
                &[(h, "2001:db8:85a3::8a2e:370:7334:443")],
                "2001:db8:85a3::8a2e:370:7334",
            ),
            (&[(h, "[2001:db8::1]:46532")], "2001:db8::1"),
            // X-Forwarded-For is not read in this mode, whatever it says
            (&[("x-forwarded-for", "1.2.3.4")], "10.0.0.9"),
            (&[(h, "not-an-address:1")], "10.0.0.9"),
            (&[(h, "198.51.100.10")], "10.0.0.9"),
        ];
        for (headers, expected) in cases {
            assert_eq!(resolve(cf, headers), ip(expected), "{headers:?}");
        }
    }

    #[test]
    fn ipv6_clients_share_a_bucket_per_64_block() {
        assert_eq!(
            bucket_key(ip("2001:db8:1:2:aaaa::1")),
            bucket_key(ip("2001:db8:1:2:bbbb::2"))
        );
        assert_ne!(
            bucket_key(ip("2001:db8:1:2::1")),
            bucket_key(ip("2001:db8:1:3::1"))
        );
        assert_eq!(bucket_key(ip("198.51.100.1")), ip("198.51.100.1"));
        assert_eq!(bucket_key(ip("::ffff:198.51.100.1")), ip("198.51.100.1"));
    }
}

//! Small HTTP helpers of the fake: percent-coding, query strings, paging
//! and the RFC 8288 `Link` header, and the clock.

use std::time::{Duration, SystemTime};

use chrono::{DateTime, SecondsFormat, Utc};

/// The current time, without relying on chrono's `clock` feature.
pub(super) fn now() -> DateTime<Utc> {
    DateTime::<Utc>::from(SystemTime::now())
}

/// `now + secs` as epoch seconds.
pub(super) fn epoch_in(secs: u64) -> i64 {
    let at = SystemTime::now() + Duration::from_secs(secs);
    DateTime::<Utc>::from(at).timestamp()
}

/// RFC 3339 with second precision and a `Z`, as GitHub writes timestamps.
pub(super) fn rfc3339(at: &DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn hex_value(byte: u8) -> Option<u8> {
    match byte {
        b'0'..=b'9' => Some(byte - b'0'),
        b'a'..=b'f' => Some(byte - b'a' + 10),
        b'A'..=b'F' => Some(byte - b'A' + 10),
        _ => None,
    }
}

/// Decodes `%XX` escapes (and `+` as a space in query strings); `None` when
/// an escape is malformed or the result is not UTF-8.
pub(super) fn percent_decode(text: &str, plus_as_space: bool) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&byte) = bytes.get(i) {
        match byte {
            b'%' => {
                let high = bytes.get(i + 1).copied().and_then(hex_value)?;
                let low = bytes.get(i + 2).copied().and_then(hex_value)?;
                out.push((high << 4) | low);
                i += 3;
            }
            b'+' if plus_as_space => {
                out.push(b' ');
                i += 1;
            }
            other => {
                out.push(other);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

/// Percent-encodes everything but RFC 3986 unreserved characters, for one
/// path segment (the same encoding the adapter sends).
pub(super) fn percent_encode(text: &str) -> String {
    crate::host::segment(text)
}

/// A query string kept as raw `key=value` pairs, so that `Link` URLs
/// preserve the client's own parameters and spelling.
#[derive(Debug, Clone, Default)]
pub(super) struct Query {
    pairs: Vec<(String, String)>,
}

impl Query {
    pub(super) fn parse(raw: Option<&str>) -> Self {
        let pairs = raw
            .unwrap_or_default()
            .split('&')
            .filter(|pair| !pair.is_empty())
            .map(|pair| match pair.split_once('=') {
                Some((key, value)) => (key.to_owned(), value.to_owned()),
                None => (pair.to_owned(), String::new()),
            })
            .collect();
        Self { pairs }
    }

    /// The decoded value of the first occurrence of `key`.
    pub(super) fn get(&self, key: &str) -> Option<String> {
        self.pairs
            .iter()
            .find(|(k, _)| percent_decode(k, true).as_deref() == Some(key))
            .and_then(|(_, value)| percent_decode(value, true))
    }

    /// The query with `page` set to `page` (replacing the first `page`
    /// parameter in place, dropping further ones, or appending it).
    fn with_page(&self, page: usize) -> String {
        let mut out: Vec<String> = Vec::with_capacity(self.pairs.len() + 1);
        let mut placed = false;
        for (key, value) in &self.pairs {
            if percent_decode(key, true).as_deref() == Some("page") {
                if !placed {
                    out.push(format!("{key}={page}"));
                    placed = true;
                }
            } else if value.is_empty() {
                out.push(key.clone());
            } else {
                out.push(format!("{key}={value}"));
            }
        }
        if !placed {
            out.push(format!("page={page}"));
        }
        out.join("&")
    }
}

/// GitHub's default and maximum page sizes.
pub(super) const DEFAULT_PER_PAGE: usize = 30;
/// Larger `per_page` values are clamped to this.
pub(super) const MAX_PER_PAGE: usize = 100;

/// One page of a listing plus its `Link` header.
pub(super) struct Paged<T> {
    pub(super) items: Vec<T>,
    pub(super) link: Option<String>,
}

/// Cuts `items` into the page the query asks for (`per_page` default 30,
/// clamped to 100; `page` 1-based, default 1; unparsable values fall back to
/// the defaults, as on GitHub) and builds the `Link` header with absolute
/// URLs on `url_without_query`.
pub(super) fn paginate<T>(items: Vec<T>, query: &Query, url_without_query: &str) -> Paged<T> {
    let per_page = query
        .get("per_page")
        .and_then(|value| value.parse::<usize>().ok())
        .filter(|&n| n > 0)
        .map_or(DEFAULT_PER_PAGE, |n| n.min(MAX_PER_PAGE));
    let page = query
        .get("page")
        .and_then(|value| value.parse::<usize>().ok())
        .filter(|&n| n > 0)
        .unwrap_or(1);
    let total = items.len();
    let last = total.div_ceil(per_page).max(1);
    let start = (page - 1).saturating_mul(per_page);
    let items: Vec<T> = items.into_iter().skip(start).take(per_page).collect();

    let url = |n: usize| format!("<{url_without_query}?{}>", query.with_page(n));
    let mut links = Vec::new();
    if page > 1 {
        links.push(format!("{}; rel=\"prev\"", url(page - 1)));
    }
    if page < last {
        links.push(format!("{}; rel=\"next\"", url(page + 1)));
        links.push(format!("{}; rel=\"last\"", url(last)));
    }
    if page > 1 {
        links.push(format!("{}; rel=\"first\"", url(1)));
    }
    let link = (!links.is_empty()).then(|| links.join(", "));
    Paged { items, link }
}

/// A stable, positive pseudo-id for a string (FNV-1a), used for user ids.
pub(super) fn stable_id(text: &str) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in text.to_lowercase().bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    1_000 + hash % 90_000_000
}

/// A deterministic 40-hex-digit "commit SHA" derived from `seed`.
pub(super) fn fake_sha(seed: &str) -> String {
    let mut out = String::with_capacity(40);
    let mut round = 0u32;
    while out.len() < 40 {
        let mut hash: u64 = 0xcbf2_9ce4_8422_2325 ^ u64::from(round);
        for byte in seed.bytes() {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
        out.push_str(&format!("{hash:016x}"));
        round += 1;
    }
    out.truncate(40);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_coding_round_trips() {
        let name = "🎪 abc123 🟢 running/x";
        assert_eq!(
            percent_decode(&percent_encode(name), false).as_deref(),
            Some(name)
        );
        assert_eq!(percent_decode("a+b", true).as_deref(), Some("a b"));
        assert_eq!(percent_decode("a+b", false).as_deref(), Some("a+b"));
        assert_eq!(percent_decode("%zz", false), None);
        assert_eq!(percent_decode("%f0%9f", false), None);
    }

    #[test]
    fn link_header_like_github() {
        let query = Query::parse(Some("state=all&per_page=100&page=2"));
        let paged = paginate((0..250).collect::<Vec<_>>(), &query, "http://h/p");
        assert_eq!(paged.items.first(), Some(&100));
        assert_eq!(paged.items.len(), 100);
        assert_eq!(
            paged.link.as_deref(),
            Some(
                "<http://h/p?state=all&per_page=100&page=1>; rel=\"prev\", \
                 <http://h/p?state=all&per_page=100&page=3>; rel=\"next\", \
                 <http://h/p?state=all&per_page=100&page=3>; rel=\"last\", \
                 <http://h/p?state=all&per_page=100&page=1>; rel=\"first\""
            )
        );
        let single = paginate(vec![1, 2], &Query::parse(None), "http://h/p");
        assert!(single.link.is_none());
        let clamped = paginate(
            (0..250).collect::<Vec<_>>(),
            &Query::parse(Some("per_page=500")),
            "u",
        );
        assert_eq!(clamped.items.len(), 100);
    }

    #[test]
    fn fake_shas_are_40_hex() {
        let sha = fake_sha("pr-1");
        assert_eq!(sha.len(), 40);
        assert!(sha.bytes().all(|b| b.is_ascii_hexdigit()));
        assert_ne!(sha, fake_sha("pr-2"));
    }
}

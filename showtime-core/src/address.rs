//! Where an environment answers: an IPv4 address and an optional port.

use std::fmt;
use std::net::Ipv4Addr;
use std::num::NonZeroU16;
use std::str::FromStr;

use crate::error::{Error, ValueKind, serde_via_str};

/// An environment's IPv4 address with an optional port.
///
/// Read in the dashed form of seed labels (`52-1-2-3`) and the dotted form of
/// per-SHA labels (`52.1.2.3:8080`); either may carry `:port`.
///
/// ```
/// use showtime_core::Address;
/// let a: Address = "52-1-2-3:8080".parse().unwrap();
/// assert_eq!(a.to_string(), "52.1.2.3:8080");
/// assert_eq!(a.dashed(), "52-1-2-3:8080");
/// assert_eq!(a.url(), "http://52.1.2.3:8080");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Address {
    ip: Ipv4Addr,
    port: Option<NonZeroU16>,
}

const EXPECTED: &str = "an IPv4 address, dotted (`52.1.2.3`) or dashed (`52-1-2-3`), \
                        optionally followed by `:<port>` with port 1-65535";

impl Address {
    /// An address from its parts.
    pub fn new(ip: Ipv4Addr, port: Option<NonZeroU16>) -> Self {
        Address { ip, port }
    }

    /// The IPv4 address.
    pub fn ip(&self) -> Ipv4Addr {
        self.ip
    }

    /// The port, when one is known.
    pub fn port(&self) -> Option<NonZeroU16> {
        self.port
    }

    /// The dashed form of seed labels: `52-1-2-3`, or `52-1-2-3:8080`.
    pub fn dashed(&self) -> String {
        let [a, b, c, d] = self.ip.octets();
        match self.port {
            Some(port) => format!("{a}-{b}-{c}-{d}:{port}"),
            None => format!("{a}-{b}-{c}-{d}"),
        }
    }

    /// The `http://` URL of the environment.
    pub fn url(&self) -> String {
        format!("http://{self}")
    }
}

impl FromStr for Address {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Error> {
        let invalid = || Error::invalid(ValueKind::Address, s, EXPECTED);
        let (host, port) = match s.split_once(':') {
            Some((host, port)) => {
                if port.is_empty() || port.len() > 5 || !port.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(invalid());
                }
                let port: u16 = port.parse().map_err(|_| invalid())?;
                (host, Some(NonZeroU16::new(port).ok_or_else(invalid)?))
            }
            None => (s, None),
        };
        let dotted = if host.contains('-') {
            if host.contains('.') {
                return Err(invalid());
            }
            host.replace('-', ".")
        } else {
            host.to_owned()
        };
        let ip: Ipv4Addr = dotted.parse().map_err(|_| invalid())?;
        Ok(Address { ip, port })
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.port {
            Some(port) => write!(f, "{}:{port}", self.ip),
            None => write!(f, "{}", self.ip),
        }
    }
}

serde_via_str!(Address);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dashed_and_dotted_forms_agree() {
        let dashed: Address = "52-1-2-3".parse().unwrap();
        let dotted: Address = "52.1.2.3".parse().unwrap();
        assert_eq!(dashed, dotted);
        assert_eq!(dashed.port(), None);
        assert_eq!(dashed.dashed(), "52-1-2-3");
    }

    #[test]
    fn malformed_addresses_are_refused() {
        for bad in [
            "52-1.2-3",
            "52.1.2",
            "256.1.2.3",
            "52.1.2.3:0",
            "52.1.2.3:65536",
            "52.1.2.3:",
            ":80",
            "host:80",
            "52.1.2.3:8080:1",
            "",
            "01.2.3.4",
        ] {
            assert!(bad.parse::<Address>().is_err(), "{bad}");
        }
    }
}

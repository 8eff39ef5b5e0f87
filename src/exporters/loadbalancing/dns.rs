//! The addresses behind a name: the system resolver, or (when
//! `resolver.dns.nameserver` is set) an A and AAAA query over UDP to that
//! server, which is how a test points the exporter at its own DNS server.
//! A name without addresses is an error, as in Go, so the caller keeps the
//! backends it has.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

/// The addresses of `hostname`, sorted and deduplicated.
pub async fn lookup(hostname: &str, nameserver: Option<SocketAddr>, timeout: Duration) -> anyhow::Result<Vec<IpAddr>> {
    let work = async {
        let mut ips = match nameserver {
            None => tokio::net::lookup_host((hostname, 0)).await?.map(|a| a.ip()).collect(),
            Some(ns) => query_both(hostname, ns).await?,
        };
        ips.sort();
        ips.dedup();
        // As Go's resolver (and so upstream): no address is an error, and
        // the caller keeps the backends it has.
        anyhow::ensure!(!ips.is_empty(), "{hostname:?} has no addresses");
        anyhow::Ok(ips)
    };
    tokio::time::timeout(timeout, work)
        .await
        .map_err(|_| anyhow::anyhow!("resolving {hostname:?} timed out after {timeout:?}"))?
}

async fn query_both(hostname: &str, ns: SocketAddr) -> anyhow::Result<Vec<IpAddr>> {
    let (a, aaaa) = tokio::join!(query(hostname, ns, TYPE_A), query(hostname, ns, TYPE_AAAA));
    match (a, aaaa) {
        (Err(e), Err(_)) => Err(e),
        (a, aaaa) => Ok(a.unwrap_or_default().into_iter().chain(aaaa.unwrap_or_default()).collect()),
    }
}

const TYPE_A: u16 = 1;
const TYPE_AAAA: u16 = 28;

async fn query(hostname: &str, ns: SocketAddr, qtype: u16) -> anyhow::Result<Vec<IpAddr>> {
    let bind: SocketAddr = if ns.is_ipv4() { "0.0.0.0:0" } else { "[::]:0" }.parse()?;
    let socket = tokio::net::UdpSocket::bind(bind).await?;
    socket.connect(ns).await?;
    let id = fastrand::u16(..);
    socket.send(&encode_query(id, hostname, qtype)?).await?;
    let mut buf = vec![0u8; 4096];
    loop {
        let n = socket.recv(&mut buf).await?;
        if let Some(answer) = decode_answer(id, qtype, &buf[..n])? {
            return Ok(answer);
        }
    }
}

/// A recursive query for one name and type.
pub fn encode_query(id: u16, hostname: &str, qtype: u16) -> anyhow::Result<Vec<u8>> {
    let mut out = Vec::with_capacity(hostname.len() + 18);
    out.extend_from_slice(&id.to_be_bytes());
    out.extend_from_slice(&[0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]);
    for label in hostname.trim_end_matches('.').split('.') {
        anyhow::ensure!(!label.is_empty() && label.len() < 64, "{hostname:?} is not a valid DNS name");
        out.push(label.len() as u8);
        out.extend_from_slice(label.as_bytes());
    }
    out.push(0);
    out.extend_from_slice(&qtype.to_be_bytes());
    out.extend_from_slice(&1u16.to_be_bytes());
    Ok(out)
}

/// The addresses in a response; `None` when the message answers another
/// query (a stray datagram). NXDOMAIN and no data both give no addresses.
/// (`lookup` turns "no addresses" into an error.)
pub fn decode_answer(id: u16, qtype: u16, msg: &[u8]) -> anyhow::Result<Option<Vec<IpAddr>>> {
    let short = || anyhow::anyhow!("truncated DNS response");
    if msg.len() < 12 || u16::from_be_bytes([msg[0], msg[1]]) != id || msg[2] & 0x80 == 0 {
        return Ok(None);
    }
    match msg[3] & 0x0f {
        0 | 3 => {}
        rcode => anyhow::bail!("the DNS server answered with error code {rcode}"),
    }
    if msg[3] & 0x0f == 3 {
        return Ok(Some(Vec::new()));
    }
    let count = |at: usize| u16::from_be_bytes([msg[at], msg[at + 1]]) as usize;
    let (questions, answers) = (count(4), count(6));
    let mut pos = 12;
    for _ in 0..questions {
        pos = skip_name(msg, pos).ok_or_else(short)? + 4;
    }
    let mut out = Vec::new();
    for _ in 0..answers {
        pos = skip_name(msg, pos).ok_or_else(short)?;
        let header = msg.get(pos..pos + 10).ok_or_else(short)?;
        let rtype = u16::from_be_bytes([header[0], header[1]]);
        let len = u16::from_be_bytes([header[8], header[9]]) as usize;
        let data = msg.get(pos + 10..pos + 10 + len).ok_or_else(short)?;
        pos += 10 + len;
        match (rtype, data.len()) {
            (TYPE_A, 4) if qtype == TYPE_A => out.push(IpAddr::V4(Ipv4Addr::new(data[0], data[1], data[2], data[3]))),
            (TYPE_AAAA, 16) if qtype == TYPE_AAAA => {
                out.push(IpAddr::V6(Ipv6Addr::from(<[u8; 16]>::try_from(data).expect("16 bytes"))))
            }
            _ => {} // CNAME and others: the server already followed them
        }
    }
    Ok(Some(out))
}

/// The position after a (possibly compressed) name.
fn skip_name(msg: &[u8], mut pos: usize) -> Option<usize> {
    loop {
        let len = *msg.get(pos)?;
        match len {
            0 => return Some(pos + 1),
            l if l & 0xc0 == 0xc0 => return Some(pos + 2),
            l => pos += 1 + l as usize,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_addresses_from_a_response_with_compressed_names() {
        let mut msg = encode_query(7, "gw.example", TYPE_A).unwrap();
        msg[2] |= 0x80; // a response
        msg[7] = 2; // two answers
        for ip in [[127, 0, 0, 2], [127, 0, 0, 3]] {
            msg.extend_from_slice(&[0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 0, 0, 4]);
            msg.extend_from_slice(&ip);
        }
        let ips = decode_answer(7, TYPE_A, &msg).unwrap().unwrap();
        assert_eq!(ips, vec!["127.0.0.2".parse::<IpAddr>().unwrap(), "127.0.0.3".parse().unwrap()]);
        assert_eq!(decode_answer(8, TYPE_A, &msg).unwrap(), None, "another query's answer is skipped");
    }

    #[test]
    fn nxdomain_is_no_addresses_and_servfail_an_error() {
        let mut msg = encode_query(1, "gone.example", TYPE_A).unwrap();
        msg[2] |= 0x80;
        msg[3] = 3;
        assert_eq!(decode_answer(1, TYPE_A, &msg).unwrap(), Some(vec![]));
        msg[3] = 2;
        assert!(decode_answer(1, TYPE_A, &msg).is_err());
        assert!(encode_query(1, "bad..name", TYPE_A).is_err());
    }
}

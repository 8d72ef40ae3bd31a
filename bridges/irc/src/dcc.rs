//! DCC SEND from an IRC contact (SPEC §8): with `dcc_receive` on, the
//! offered file is fetched from the address the offer names (public
//! addresses only, unless `dcc_allow` covers it), written to the store a
//! chunk at a time, and handed to the core, which uploads it and gives the
//! user its link. Otherwise the offer is shown as text; nothing is fetched.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use ferry_bridge::{channel, Address, Event, File, FileContent, SessionStorage, Text};
use ipnet::IpNet;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Bytes written to the store at a time.
const CHUNK: usize = 256 * 1024;
/// How long the sender may take to accept, then to send each read.
const WAIT: Duration = Duration::from_secs(30);

/// What DCC may do for one session.
pub struct Dcc {
    pub receive: bool,
    pub allow: Arc<Vec<IpNet>>,
    pub storage: Arc<dyn SessionStorage>,
    /// Bytes a file may have (`max_attachment`).
    pub max_bytes: u64,
}

/// A `DCC SEND` offer.
#[derive(Debug, PartialEq, Eq)]
pub struct Offer {
    pub name: String,
    pub address: IpAddr,
    pub port: u16,
    pub size: u64,
}

/// Reads the arguments of a CTCP `DCC`: `SEND name address port size`,
/// the name maybe quoted, the address an IPv4 number or an IPv6 text.
pub fn parse(args: &str) -> Option<Offer> {
    let rest = args.strip_prefix("SEND ")?.trim_start();
    let (name, rest) = match rest.strip_prefix('"') {
        Some(quoted) => quoted.split_once('"')?,
        None => rest.split_once(' ')?,
    };
    let mut fields = rest.split_whitespace();
    let address = fields.next()?;
    let address = match address.parse::<u32>() {
        Ok(n) => IpAddr::V4(Ipv4Addr::from(n)),
        Err(_) => address.parse().ok()?,
    };
    let port = fields.next()?.parse().ok()?;
    let size = fields.next()?.parse().ok()?;
    let name: String = name
        .chars()
        .filter(|c| !c.is_control() && !matches!(c, '/' | '\\'))
        .take(200)
        .collect();
    let name = name.trim().trim_start_matches('.').to_owned();
    Some(Offer {
        name: if name.is_empty() { "file".into() } else { name },
        address,
        port,
        size,
    })
}

/// Whether ferry may connect to `address` for a user: a public address,
/// or one `allow` covers.
pub fn reachable(address: IpAddr, allow: &[IpNet]) -> bool {
    if allow.iter().any(|net| net.contains(&address)) {
        return true;
    }
    match address {
        IpAddr::V4(a) => {
            !(a.is_loopback()
            || a.is_private()
            || a.is_link_local()
            || a.is_unspecified()
            || a.is_broadcast()
            || a.is_multicast()
            || a.is_documentation()
            // 100.64.0.0/10, carrier-grade NAT: a provider's inside.
            || (a.octets()[0] == 100 && (a.octets()[1] & 0xc0) == 64))
        }
        IpAddr::V6(a) => match a.to_ipv4_mapped() {
            Some(v4) => reachable(IpAddr::V4(v4), allow),
            None => {
                !(a.is_loopback()
                    || a.is_unspecified()
                    || a.is_multicast()
                    || a.is_unique_local()
                    || a.is_unicast_link_local())
            }
        },
    }
}

/// A file's type from its name, for the few kinds clients show inline.
fn content_type(name: &str) -> &'static str {
    let ext = name.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase());
    match ext.as_deref() {
        Some("png") => "image/png",
        Some("jpg" | "jpeg") => "image/jpeg",
        Some("gif") => "image/gif",
        Some("webp") => "image/webp",
        Some("pdf") => "application/pdf",
        Some("txt" | "log") => "text/plain",
        Some("mp3") => "audio/mpeg",
        Some("ogg" | "oga") => "audio/ogg",
        Some("mp4") => "video/mp4",
        Some("webm") => "video/webm",
        Some("zip") => "application/zip",
        _ => "application/octet-stream",
    }
}

fn note(text: String) -> Text {
    Text {
        body: text,
        ..Text::default()
    }
}

/// Takes a `DCC` request from `from`: starts the download, or returns
/// the text the user is shown instead.
pub fn offer(
    dcc: &Dcc,
    events: &channel::Sender<Event>,
    from: Address,
    args: &str,
) -> Option<Text> {
    let offer = parse(args)?;
    let what = format!(
        "[{} offers {} ({} bytes) by DCC",
        from.name, offer.name, offer.size
    );
    let refused = if !dcc.receive {
        Some("not fetched: this gateway takes no DCC")
    } else if offer.port == 0 {
        Some("not fetched: passive DCC is not supported")
    } else if offer.size > dcc.max_bytes {
        Some("not fetched: it is over the size this gateway carries")
    } else if !reachable(offer.address, &dcc.allow) {
        Some("refused: it points at a private address")
    } else {
        None
    };
    if let Some(refused) = refused {
        return Some(note(format!("{what}: {refused}]")));
    }
    let (storage, events) = (dcc.storage.clone(), events.clone());
    tokio::spawn(async move {
        let text = match receive(storage.as_ref(), &offer).await {
            Ok(file) => Text {
                files: vec![file],
                ..Text::default()
            },
            Err(e) => note(format!("{what}: it could not be received: {e}]")),
        };
        let _ = events.send(Event::DirectMessage { from, text }).await;
    });
    None
}

/// Fetches the offered file into the store, acknowledging as DCC wants.
async fn receive(storage: &dyn SessionStorage, offer: &Offer) -> Result<File, String> {
    let target = SocketAddr::new(offer.address, offer.port);
    let mut socket = tokio::time::timeout(WAIT, TcpStream::connect(target))
        .await
        .map_err(|_| "the sender did not answer".to_owned())?
        .map_err(|e| e.to_string())?;
    let id = storage.file_create().await.map_err(|e| e.to_string())?;
    let written = copy(storage, &mut socket, id, offer.size).await;
    if let Err(e) = written {
        let _ = storage.file_delete(id).await;
        return Err(e);
    }
    Ok(File {
        name: offer.name.clone(),
        content_type: content_type(&offer.name).to_owned(),
        size: offer.size,
        content: FileContent::Stored(id),
    })
}

async fn copy(
    storage: &dyn SessionStorage,
    socket: &mut TcpStream,
    id: i64,
    size: u64,
) -> Result<(), String> {
    let mut buffer = Vec::with_capacity(CHUNK);
    let mut read = [0u8; 16 * 1024];
    let (mut received, mut seq) = (0u64, 0i64);
    while received < size {
        let n = tokio::time::timeout(WAIT, socket.read(&mut read))
            .await
            .map_err(|_| "the sender stalled".to_owned())?
            .map_err(|e| e.to_string())?;
        if n == 0 {
            return Err(format!("the sender stopped after {received} bytes"));
        }
        let n = n.min((size - received) as usize);
        received += n as u64;
        buffer.extend_from_slice(&read[..n]);
        // The sender counts on an acknowledgement of the bytes so far.
        let ack = (received as u32).to_be_bytes();
        socket.write_all(&ack).await.map_err(|e| e.to_string())?;
        if buffer.len() >= CHUNK || received == size {
            storage
                .file_append(id, seq, &buffer)
                .await
                .map_err(|e| e.to_string())?;
            seq += 1;
            buffer.clear();
        }
    }
    if size == 0 {
        storage
            .file_append(id, 0, &[])
            .await
            .map_err(|e| e.to_string())?;
    }
    storage
        .file_finish(id, size)
        .await
        .map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offers_as_clients_send_them() {
        let o = parse("SEND report.pdf 2130706433 5000 1048576").unwrap();
        assert_eq!(o.name, "report.pdf");
        assert_eq!(o.address, "127.0.0.1".parse::<IpAddr>().unwrap());
        assert_eq!((o.port, o.size), (5000, 1048576));
        let o = parse("SEND \"my ../cat.jpg\" ::1 6000 12").unwrap();
        assert_eq!((o.name.as_str(), o.port), ("my ..cat.jpg", 6000));
        assert_eq!(parse("SEND x 1 2"), None);
        assert_eq!(parse("CHAT chat 1 2"), None);
        assert_eq!(parse("SEND x 1 70000 5"), None);
    }

    #[test]
    fn only_public_addresses_unless_allowed() {
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        for private in [
            "127.0.0.1",
            "10.1.2.3",
            "192.168.1.1",
            "169.254.0.1",
            "100.64.0.1",
            "0.0.0.0",
            "::1",
            "fe80::1",
            "fd00::1",
            "::ffff:10.0.0.1",
        ] {
            assert!(!reachable(ip(private), &[]), "{private}");
        }
        assert!(reachable(ip("93.184.216.34"), &[]));
        assert!(reachable(ip("2a00:1450::1"), &[]));
        let loopback: IpNet = "127.0.0.0/8".parse().unwrap();
        assert!(reachable(ip("127.0.0.5"), &[loopback]));
        assert!(!reachable(ip("10.0.0.1"), &[loopback]));
    }

    #[test]
    fn types_from_names() {
        assert_eq!(content_type("a.PNG"), "image/png");
        assert_eq!(content_type("noext"), "application/octet-stream");
    }
}

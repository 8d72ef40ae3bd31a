//! ferry's identd (RFC 1413, `[bridge.irc] identd`): an IRC server asks
//! who owns one of our connections to it, by its two ports; we answer
//! with that user's ident, and `ERROR : NO-USER` for any other. One
//! listener serves every network. It must listen where the servers'
//! queries arrive: the address each connection comes from (`0.0.0.0`
//! when users have their own, from `bind`).

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

/// A query is one short line.
const MAX_QUERY: usize = 100;
/// A server that says nothing is dropped after this.
const QUERY_TIMEOUT: Duration = Duration::from_secs(10);
/// A server asks as soon as it accepts a connection, which can be before
/// the connection's side has entered it: an unknown one is looked for
/// again this long (servers wait seconds for an answer).
const GRACE: Duration = Duration::from_secs(1);

/// A connection as a query names it: our address and port, the server's
/// port.
type Key = (IpAddr, u16, u16);

/// The idents of the connections open now.
#[derive(Default)]
pub struct Idents {
    open: Mutex<HashMap<Key, String>>,
}

/// A connection's entry, taken out when the connection ends.
pub struct Registered {
    idents: Arc<Idents>,
    key: Key,
}

impl Drop for Registered {
    fn drop(&mut self) {
        self.idents.lock().remove(&self.key);
    }
}

impl Idents {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Key, String>> {
        self.open.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Answers for the connection from `local` to `remote` with `ident`
    /// while the returned entry lives.
    pub fn register(
        self: &Arc<Self>,
        local: SocketAddr,
        remote: SocketAddr,
        ident: &str,
    ) -> Registered {
        let key = (local.ip(), local.port(), remote.port());
        self.lock().insert(key, ident.to_owned());
        Registered {
            idents: self.clone(),
            key,
        }
    }

    /// The ident of the connection from our `at`:`ours` to `theirs`.
    fn ident(&self, at: IpAddr, ours: u16, theirs: u16) -> Option<String> {
        // A listener on a wildcard address sees the query's own
        // destination as `at`; one on 127.0.0.1 sees 127.0.0.1.
        self.lock().get(&(at, ours, theirs)).cloned()
    }
}

/// A query's two ports: ours, then the server's.
fn ports(query: &str) -> Option<(u16, u16)> {
    let (ours, theirs) = query.split_once(',')?;
    Some((ours.trim().parse().ok()?, theirs.trim().parse().ok()?))
}

fn reply((ours, theirs): (u16, u16), ident: Option<&str>) -> String {
    match ident {
        Some(ident) => format!("{ours} , {theirs} : USERID : UNIX : {ident}"),
        None => format!("{ours} , {theirs} : ERROR : NO-USER"),
    }
}

/// Serves queries until the listener fails.
pub async fn serve(listener: TcpListener, idents: Arc<Idents>) {
    loop {
        match listener.accept().await {
            Ok((socket, _)) => {
                tokio::spawn(query(socket, idents.clone()));
            }
            Err(e) => {
                tracing::warn!(error = %e, "identd: accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

async fn query(socket: TcpStream, idents: Arc<Idents>) {
    let Ok(at) = socket.local_addr() else {
        return;
    };
    let (read, mut write) = socket.into_split();
    let mut line = String::new();
    let mut reader = BufReader::new(tokio::io::AsyncReadExt::take(read, MAX_QUERY as u64));
    let read = tokio::time::timeout(QUERY_TIMEOUT, reader.read_line(&mut line)).await;
    if !matches!(read, Ok(Ok(n)) if n > 0) {
        return;
    }
    let query = line.trim_end();
    let answer = match ports(query) {
        None => format!("{} : ERROR : INVALID-PORT", query.trim()),
        Some((ours, theirs)) => {
            let asked = tokio::time::Instant::now();
            let ident = loop {
                let ident = idents.ident(at.ip(), ours, theirs);
                if ident.is_some() || asked.elapsed() >= GRACE {
                    break ident;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            };
            reply((ours, theirs), ident.as_deref())
        }
    };
    let _ = write.write_all(format!("{answer}\r\n").as_bytes()).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_name_the_connections_user_only() {
        let idents = Arc::new(Idents::default());
        let local: SocketAddr = "127.0.0.5:40000".parse().unwrap();
        let server: SocketAddr = "127.0.0.1:6667".parse().unwrap();
        let entry = idents.register(local, server, "alice");
        let at = local.ip();
        let answer = |at, query: &str| {
            let ports = ports(query)?;
            Some(reply(ports, idents.ident(at, ports.0, ports.1).as_deref()))
        };
        let alice = "40000 , 6667 : USERID : UNIX : alice";
        assert_eq!(answer(at, "40000,6667").as_deref(), Some(alice));
        assert_eq!(answer(at, " 40000 , 6667").as_deref(), Some(alice));
        // Another address, other ports, garbage: nobody's.
        let other = "127.0.0.6".parse().unwrap();
        assert!(answer(other, "40000,6667").unwrap().ends_with("NO-USER"));
        assert!(answer(at, "40001,6667").unwrap().ends_with("NO-USER"));
        assert_eq!(answer(at, "x,y"), None);
        drop(entry);
        assert!(answer(at, "40000,6667").unwrap().ends_with("NO-USER"));
    }

    #[tokio::test]
    async fn a_query_that_comes_before_its_connection_is_entered_is_answered() {
        let idents = Arc::new(Idents::default());
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let at = listener.local_addr().unwrap();
        tokio::spawn(serve(listener, idents.clone()));
        let mut asker = TcpStream::connect(at).await.unwrap();
        asker.write_all(b"40000, 6667\r\n").await.unwrap();
        // Entered only after the question.
        tokio::time::sleep(Duration::from_millis(200)).await;
        let server: SocketAddr = "127.0.0.1:6667".parse().unwrap();
        let local = SocketAddr::new(at.ip(), 40000);
        let _entry = idents.register(local, server, "alice");
        let mut answer = String::new();
        tokio::io::AsyncReadExt::read_to_string(&mut asker, &mut answer)
            .await
            .unwrap();
        assert_eq!(answer, "40000 , 6667 : USERID : UNIX : alice\r\n");
    }
}

//! The XMPP server of a test world: Prosody, or Debian's ejabberd when
//! `FERRY_TEST_XMPP=ejabberd` (CI runs the core, IRC and mail tests both
//! ways). A test that needs one server's own features asks for it.

use std::path::Path;

use super::ejabberd::Ejabberd;
use super::Prosody;

enum Server {
    Prosody(Prosody),
    Ejabberd(Ejabberd),
}

pub struct Xmpp {
    pub c2s: u16,
    pub component: u16,
    server: Server,
}

/// Whether this run's worlds use ejabberd.
pub fn ejabberd() -> bool {
    std::env::var("FERRY_TEST_XMPP").as_deref() == Ok("ejabberd")
}

impl Xmpp {
    /// The run's server, with users alice, bob and admin on `localhost`
    /// and eve on `other.example` (password "pw"); `privileged`: the
    /// bridges may write `localhost` users' rosters (XEP-0356).
    pub fn start(dir: &Path, privileged: bool) -> Xmpp {
        if ejabberd() {
            let e = Ejabberd::start_with(privileged);
            return Xmpp {
                c2s: e.c2s,
                component: e.component,
                server: Server::Ejabberd(e),
            };
        }
        let p = Prosody::start_with(dir, privileged);
        for user in ["alice", "bob", "admin"] {
            p.add_user(user, "localhost", "pw");
        }
        p.add_user("eve", "other.example", "pw");
        Xmpp {
            c2s: p.c2s,
            component: p.component,
            server: Server::Prosody(p),
        }
    }

    /// The Prosody, for a test of what only it has (its config, its
    /// upload service, a crash).
    pub fn prosody(&mut self) -> &mut Prosody {
        match &mut self.server {
            Server::Prosody(p) => p,
            Server::Ejabberd(_) => panic!("this test needs Prosody (FERRY_TEST_XMPP=ejabberd)"),
        }
    }

    /// Stops and starts the server again, on the same ports.
    pub fn restart(&mut self) {
        match &mut self.server {
            Server::Prosody(p) => p.restart(),
            Server::Ejabberd(e) => e.restart(),
        }
    }
}

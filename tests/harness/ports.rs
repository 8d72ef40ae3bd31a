//! Free loopback ports for test servers. The kernel may hand out a port it
//! just gave another test (bind to 0, release, and the port is free again
//! until a server binds it); remembering every port handed out in this
//! process keeps parallel tests from starting two servers on one port.

use std::collections::HashSet;
use std::sync::Mutex;

static GIVEN: Mutex<Option<HashSet<u16>>> = Mutex::new(None);

pub fn free_port() -> u16 {
    let mut given = GIVEN.lock().unwrap_or_else(|e| e.into_inner());
    let given = given.get_or_insert_with(HashSet::new);
    loop {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        if given.insert(port) {
            return port;
        }
    }
}

//! Network policies (SPEC §10) through inspircd: WEBIRC with its
//! password shows each user's own address to the server; with `bind`,
//! each user's connection comes from their own stable address; ferry's
//! identd tells the server each connection's ident.

mod harness;

use harness::ircd::IrcClient;
use harness::stanzas::online_on_irc;
use harness::{network_as_table, World};

/// The user and host WHOIS shows for `nick` (311).
async fn whois(asker: &mut IrcClient, nick: &str) -> (String, String) {
    asker.send(&format!("WHOIS {nick}")).await;
    let wanted = format!(" 311 {} {nick} ", asker.nick);
    let line = asker.expect("the WHOIS", |l| l.contains(&wanted)).await;
    let words: Vec<&str> = line.split(' ').collect();
    (words[4].to_owned(), words[5].to_owned())
}

fn webirc_conf(conf: String) -> String {
    conf + "\n<module name=\"cgiirc\">\n<cgihost type=\"webirc\" password=\"webpass\" mask=\"127.0.0.0/8\">\n"
}

#[tokio::test]
async fn webirc_shows_each_users_own_stable_address() {
    let password = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(password.path(), "webpass\n").unwrap();
    let path = password.path().display().to_string();
    let mut w = World::start_inspircd_conf(false, webirc_conf, |c, _| {
        network_as_table(c, &format!("webirc_password_file = \"{path}\""))
    })
    .await;
    let mut carol = IrcClient::connect(w.irc_port(), "carol").await;
    let _alice = online_on_irc(&w, "alice", "alice").await;
    let _bob = online_on_irc(&w, "bob", "bob").await;
    let (_, alice) = whois(&mut carol, "alice").await;
    let (_, bob) = whois(&mut carol, "bob").await;
    // Not ferry's 127.0.0.1: an address of alice's own (a unique local
    // IPv6 one, as no range is bound), another for bob.
    assert!(alice.starts_with("fd") && alice.contains(':'), "{alice}");
    assert!(bob.starts_with("fd") && bob != alice, "{bob} {alice}");
    // The same after a restart of ferry.
    w.ferry.terminate();
    w.ferry.launch();
    w.ferry.wait_links(2).await;
    let (_, again) = whois_when_back(&mut carol, "alice").await;
    assert_eq!(again, alice);
}

/// WHOIS `nick` until it is on the server again.
async fn whois_when_back(asker: &mut IrcClient, nick: &str) -> (String, String) {
    let wanted = format!(" 311 {} {nick} ", asker.nick);
    for _ in 0..50 {
        asker.send(&format!("WHOIS {nick}")).await;
        let line = asker
            .expect("the WHOIS", |l| l.contains(&wanted) || l.contains(" 401 "))
            .await;
        if line.contains(" 311 ") {
            let words: Vec<&str> = line.split(' ').collect();
            return (words[4].to_owned(), words[5].to_owned());
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    panic!("{nick} did not come back");
}

fn ident_conf(conf: String) -> String {
    assert!(conf.contains("useident=\"no\""));
    conf.replace("useident=\"no\"", "useident=\"yes\"")
        + "\n<module name=\"ident\">\n<ident timeout=\"3\">\n"
}

#[tokio::test]
async fn each_user_comes_from_their_own_address_with_their_ident() {
    // The servers' ident queries go to each connection's own address: the
    // identd listens on all of them.
    let mut w = World::start_inspircd_conf(false, ident_conf, |c, _| {
        let c = network_as_table(c, "bind = \"127.0.0.0/8\"");
        assert!(c.contains("# identd = \"0.0.0.0:113\""));
        c.replace("# identd = \"0.0.0.0:113\"", "identd = \"0.0.0.0:113\"")
    })
    .await;
    let mut carol = IrcClient::connect(w.irc_port(), "carol").await;
    let _alice = online_on_irc(&w, "alice", "alice").await;
    let _bob = online_on_irc(&w, "bob", "bob").await;
    let (alice_user, alice) = whois(&mut carol, "alice").await;
    let (bob_user, bob) = whois(&mut carol, "bob").await;
    assert!(alice.starts_with("127.") && alice != "127.0.0.1", "{alice}");
    assert!(bob.starts_with("127.") && bob != alice, "{bob} {alice}");
    // Their idents, as the identd told them (no `~`)...
    assert_eq!((alice_user.as_str(), bob_user.as_str()), ("alice", "bob"));
    // ...and none for a connection that is not ferry's.
    let (carol_user, _) = whois(&mut carol, "carol").await;
    assert!(carol_user.starts_with('~'), "{carol_user}");
    w.ferry.terminate();
    w.ferry.launch();
    w.ferry.wait_links(2).await;
    let (_, again) = whois_when_back(&mut carol, "alice").await;
    assert_eq!(again, alice);
}

//! ferry behind ejabberd, with the component listener as deploy/ejabberd.yml
//! writes it: both bridges on one `ejabberd_service` listener.

mod harness;

use harness::client::{presence_from, result, TestClient};
use harness::ejabberd::Ejabberd;
use harness::stanzas::{disco_info, query, register_form};
use harness::{config_for, Ferry, IRC, MAIL};

#[tokio::test]
async fn each_bridge_gets_only_its_own_traffic() {
    let ejabberd = Ejabberd::start();
    let tmp = tempfile::tempdir().unwrap();
    let ferry = Ferry::start(tmp.path(), &config_for(tmp.path(), ejabberd.component));
    ferry.wait_links(2).await;
    let mut alice = TestClient::connect("alice", "localhost", "pw", ejabberd.c2s).await;
    // With ejabberd's default routing, every host of the listener reaches
    // every connection, and about half of these would be answered by the
    // other bridge.
    for round in 0..20 {
        for (bridge, kind) in [(IRC, "irc"), (MAIL, "smtp")] {
            let info = disco_info(&mut alice, bridge, None).await;
            let answered_by = info
                .identities
                .iter()
                .find(|i| i.category == "gateway")
                .map(|i| i.type_.clone());
            assert_eq!(
                answered_by.as_deref(),
                Some(kind),
                "round {round}: {bridge} answered as {answered_by:?}"
            );
        }
    }
    // Registration reaches the bridge it is for.
    let form = result(alice.iq(IRC, false, query("jabber:iq:register")).await).unwrap();
    assert!(
        String::from(&form).contains("var='nick'"),
        "{}",
        String::from(&form)
    );
    drop(ejabberd);
}

/// ejabberd 23.01 advertises roster access (`urn:xmpp:privilege:1`) but
/// fails every privileged roster set: the user is asked with presences, as
/// without the grant.
#[tokio::test]
async fn a_granted_roster_the_server_refuses_falls_back_to_presences() {
    let ejabberd = Ejabberd::start_with(true);
    let tmp = tempfile::tempdir().unwrap();
    let ferry = Ferry::start(tmp.path(), &config_for(tmp.path(), ejabberd.component));
    ferry.wait_links(2).await;
    for _ in 0..200 {
        if ferry.log().contains("urn:xmpp:privilege:1") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(
        ferry.log().contains("roster management on"),
        "{}",
        ferry.log()
    );
    let mut alice = TestClient::connect("alice", "localhost", "pw", ejabberd.c2s).await;
    alice.available().await;
    result(
        alice
            .iq(IRC, true, register_form(&[("nick", "alice")]))
            .await,
    );
    alice
        .expect("subscribe from the gateway", |s| {
            presence_from(s, IRC, Some("subscribe"))
        })
        .await;
    assert!(ferry.log().contains("the server refused a roster change"));
    drop(ejabberd);
}

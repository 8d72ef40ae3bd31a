//! ferry behind ejabberd, with the component listener as deploy/ejabberd.yml
//! writes it: both bridges on one `ejabberd_service` listener.

mod harness;

use harness::client::{result, TestClient};
use harness::ejabberd::Ejabberd;
use harness::stanzas::{disco_info, query};
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

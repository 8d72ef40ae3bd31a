//! XEP-0050 ad-hoc commands on a bridge JID, as users and as admins.

mod harness;

use harness::client::{error_condition, presence_from, result, TestClient, NS};
use harness::stanzas::register_and_subscribe;
use harness::{World, IRC};
use tokio_xmpp::parsers::data_forms::{DataForm, DataFormType, Field};
use tokio_xmpp::parsers::disco::DiscoItemsResult;
use tokio_xmpp::parsers::minidom::Element;

const COMMANDS: &str = "http://jabber.org/protocol/commands";

async fn command_nodes(c: &mut TestClient) -> Vec<String> {
    let query = Element::builder("query", "http://jabber.org/protocol/disco#items")
        .attr(harness::client::ncname("node"), COMMANDS)
        .build();
    let items = DiscoItemsResult::try_from(result(c.iq(IRC, false, query).await).unwrap()).unwrap();
    items.items.into_iter().filter_map(|i| i.node).collect()
}

fn execute(node: &str) -> Element {
    Element::builder("command", COMMANDS)
        .attr(harness::client::ncname("node"), node)
        .attr(harness::client::ncname("action"), "execute")
        .build()
}

fn submit(node: &str, var: &str, values: &[&str]) -> Element {
    let mut field = Field::new(var, tokio_xmpp::parsers::data_forms::FieldType::TextMulti);
    field.values = values.iter().map(|v| v.to_string()).collect();
    let form = DataForm::new(DataFormType::Submit, COMMANDS, vec![field]);
    Element::builder("command", COMMANDS)
        .attr(harness::client::ncname("node"), node)
        .attr(harness::client::ncname("sessionid"), format!("{node}-1"))
        .attr(harness::client::ncname("action"), "complete")
        .append(Element::from(form))
        .build()
}

fn status(command: &Element) -> &str {
    command.attr("status").unwrap_or_default()
}

fn form_values(command: &Element, var: &str) -> Vec<String> {
    let form = command.get_child("x", "jabber:x:data").expect("a form");
    let form = DataForm::try_from(form.clone()).unwrap();
    form.fields
        .into_iter()
        .find(|f| f.var.as_deref() == Some(var))
        .map(|f| f.values)
        .unwrap_or_default()
}

#[tokio::test]
async fn users_and_admins_see_and_run_their_commands() {
    let w = World::start().await;
    let mut alice = TestClient::connect("alice", "localhost", "pw", w.xmpp.c2s).await;
    alice.available().await;
    let mut admin = TestClient::connect("admin", "localhost", "pw", w.xmpp.c2s).await;
    let mut eve = TestClient::connect("eve", "other.example", "pw", w.xmpp.c2s).await;

    assert_eq!(
        command_nodes(&mut alice).await,
        ["show-registration", "reconnect"]
    );
    assert_eq!(command_nodes(&mut admin).await.len(), 6);
    assert!(command_nodes(&mut eve).await.is_empty());
    assert_eq!(
        error_condition(&eve.iq(IRC, true, execute("show-registration")).await),
        "forbidden"
    );
    assert_eq!(
        error_condition(&alice.iq(IRC, true, execute("list-users")).await),
        "forbidden"
    );
    assert_eq!(
        error_condition(&alice.iq(IRC, true, execute("nope")).await),
        "item-not-found"
    );

    // Before registering.
    let shown = result(alice.iq(IRC, true, execute("show-registration")).await).unwrap();
    assert_eq!(status(&shown), "completed");
    assert!(shown
        .get_child("note", COMMANDS)
        .unwrap()
        .text()
        .contains("not registered"));

    register_and_subscribe(
        &mut alice,
        IRC,
        &[("nick", "alice"), ("password", "hunter2-pw")],
    )
    .await;
    let shown = result(alice.iq(IRC, true, execute("show-registration")).await).unwrap();
    assert_eq!(form_values(&shown, "nick"), ["alice"]);
    assert_eq!(form_values(&shown, "password"), ["(set)"]);
    assert!(!String::from(&shown).contains("hunter2-pw"));
    let reconnect = result(alice.iq(IRC, true, execute("reconnect")).await).unwrap();
    assert_eq!(status(&reconnect), "completed");

    let listed = result(admin.iq(IRC, true, execute("list-users")).await).unwrap();
    assert_eq!(form_values(&listed, "users"), ["alice@localhost"]);
    assert_eq!(form_values(&listed, "count"), ["1"]);

    // Announce: a form first, then the message reaches registered users.
    let asked = result(admin.iq(IRC, true, execute("announce")).await).unwrap();
    assert_eq!(status(&asked), "executing");
    assert!(asked.get_child("x", "jabber:x:data").is_some());
    let done = result(
        admin
            .iq(
                IRC,
                true,
                submit("announce", "body", &["maintenance", "at noon"]),
            )
            .await,
    )
    .unwrap();
    assert_eq!(status(&done), "completed");
    alice
        .expect("the announcement", |s| {
            s.name() == "message"
                && s.attr("from") == Some(IRC)
                && s.get_child("body", NS)
                    .is_some_and(|b| b.text() == "maintenance\nat noon")
        })
        .await;

    // Unregister a user: she sees the gateway go away, and is gone from the list.
    let asked = result(admin.iq(IRC, true, execute("unregister-user")).await).unwrap();
    assert_eq!(status(&asked), "executing");
    let done = result(
        admin
            .iq(
                IRC,
                true,
                submit("unregister-user", "jid", &["alice@localhost"]),
            )
            .await,
    )
    .unwrap();
    assert_eq!(status(&done), "completed");
    alice
        .expect("unavailable from the gateway", |s| {
            presence_from(s, IRC, Some("unavailable"))
        })
        .await;
    let listed = result(admin.iq(IRC, true, execute("list-users")).await).unwrap();
    assert!(form_values(&listed, "users").is_empty());
    let again = admin
        .iq(
            IRC,
            true,
            submit("unregister-user", "jid", &["alice@localhost"]),
        )
        .await;
    assert_eq!(error_condition(&again), "registration-required");
}

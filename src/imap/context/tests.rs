//! Context tests: conversations as the proxy sees them, command by
//! command and response by response.

use super::*;
use crate::imap::token::lex;

fn ctx() -> Context {
    Context::new(vec!["Drafts".into()], vec!["\\Drafts".into()])
}

fn cmd(c: &mut Context, line: &str) {
    let tokens = lex(line.as_bytes());
    let tag = tokens[0].astring().unwrap();
    c.command(&tag, &Command::parse(&tokens));
}

fn tagged(c: &mut Context, line: &str) -> Settled {
    let mut words = line.splitn(3, ' ');
    let head = Head::Tagged {
        tag: words.next().unwrap().into(),
        status: words.next().unwrap().to_ascii_uppercase(),
    };
    c.tagged(&head, line.as_bytes())
}

fn content(bytes: &[u8]) -> SpooledContent {
    SpooledContent::from_bytes(bytes.to_vec())
}

#[test]
fn login_and_select_set_user_and_mailbox() {
    let mut c = ctx();
    cmd(&mut c, "a1 LOGIN alice secret");
    assert!(matches!(
        tagged(&mut c, "a1 OK Logged in"),
        Settled::LoggedIn(_)
    ));
    assert_eq!(c.user.as_deref(), Some("alice"));
    cmd(&mut c, "a2 SELECT INBOX");
    c.untagged_status(b"* OK [UIDVALIDITY 1700] UIDs valid");
    assert_eq!(c.selected, None, "not selected before the tagged OK");
    tagged(&mut c, "a2 OK [READ-WRITE] done");
    assert_eq!(
        c.selected,
        Some(Mailbox {
            name: "INBOX".into(),
            uidvalidity: Some(1700)
        })
    );
    cmd(&mut c, "a3 EXAMINE Nope");
    tagged(&mut c, "a3 NO no such mailbox");
    assert_eq!(c.selected, None, "a failed SELECT deselects");
}

#[test]
fn failed_login_keeps_nothing() {
    let mut c = ctx();
    cmd(&mut c, "a1 LOGIN alice wrong");
    assert!(matches!(
        tagged(&mut c, "a1 NO [AUTHENTICATIONFAILED] no"),
        Settled::Nothing
    ));
    assert_eq!(c.user, None);
}

#[test]
fn authenticate_collects_sasl_responses() {
    let mut c = ctx();
    cmd(&mut c, "a1 AUTHENTICATE PLAIN");
    assert!(c.sasl_response(b"AGFsaWNlAHNlY3JldA=="));
    match tagged(&mut c, "a1 OK done") {
        Settled::LoggedIn(creds) => assert_eq!(creds.user().as_deref(), Some("alice")),
        _ => panic!("not logged in"),
    }
    assert!(!c.sasl_response(b"a2 NOOP"), "exchange over");
    cmd(&mut c, "a3 AUTHENTICATE PLAIN AGFsaWNlAHNlY3JldA==");
    assert!(matches!(tagged(&mut c, "a3 NO bad"), Settled::Nothing));
}

#[test]
fn appends_settle_on_the_tagged_response() {
    let mut c = ctx();
    c.append_message("a1", "Sent", content(b"one"));
    c.append_message("a1", "Sent", content(b"two"));
    match tagged(&mut c, "a1 OK [APPENDUID 9 4:5] done") {
        Settled::Appended {
            mailbox,
            uidvalidity,
            uids,
            messages,
        } => {
            assert_eq!(
                (mailbox.as_str(), uidvalidity, uids),
                ("Sent", Some(9), vec![4, 5])
            );
            assert_eq!(messages.len(), 2);
        }
        _ => panic!("not appended"),
    }
    c.append_message("a2", "Sent", content(b"three"));
    assert!(matches!(
        tagged(&mut c, "a2 NO [OVERQUOTA] full"),
        Settled::Nothing
    ));
    c.append_message("a3", "Sent", content(b"four"));
    match tagged(&mut c, "a3 OK done") {
        Settled::Appended {
            uidvalidity, uids, ..
        } => assert_eq!((uidvalidity, uids), (None, vec![])),
        _ => panic!("not appended"),
    }
}

#[test]
fn drafts_are_skipped_by_name_and_by_special_use() {
    let mut c = ctx();
    c.append_message("a1", "Drafts", content(b"x"));
    assert!(matches!(
        tagged(&mut c, "a1 OK done"),
        Settled::Skipped { .. }
    ));
    assert!(!c.skipped("Entwürfe"));
    c.listed("Entwürfe".into(), vec!["\\Drafts".into()]);
    assert!(c.skipped("Entwürfe"));
    assert!(!c.skipped("drafts"), "folder names are case-sensitive");
    let c = Context::new(vec!["inbox".into()], vec![]);
    assert!(c.skipped("INBOX"));
}

#[test]
fn idle_lasts_until_its_tagged_response() {
    let mut c = ctx();
    cmd(&mut c, "a1 IDLE");
    assert!(c.idling());
    tagged(&mut c, "a0 OK other");
    assert!(c.idling());
    tagged(&mut c, "a1 OK IDLE terminated");
    assert!(!c.idling());
    cmd(&mut c, "a2 IDLE");
    assert!(!c.idle_done(b"a3 NOOP") && c.idling());
    assert!(c.idle_done(b"done") && !c.idling());
}

//! The daemon's session and the CLI's client over a socket pair, without
//! a daemon process: reads from the index, a pipelined import through the
//! [`RemoteSink`](super::remote::RemoteSink), what a broken import
//! leaves behind (nothing half-archived), proofs from the tree file and
//! the seal-key rotation.

use std::path::Path;

use tokio::net::UnixStream;
use tokio_util::sync::CancellationToken;

use super::client::Conn;
use super::peer::Peer;
use super::protocol::{Command, ErrorKind, Reply, Request, Upload};
use super::remote::RemoteSink;
use super::session;
use super::wire::{FrameReader, FrameWriter};
use crate::archive::filter::Filter;
use crate::archive::record::{ImportContext, Source, SourceKind};
use crate::archive::{Archive, MessageMeta, NewMessage, SpooledContent};
use crate::import::ImportSink;
use crate::proof::{InclusionProof, Prover, source};

fn me() -> Peer {
    Peer {
        uid: 0,
        gid: 0,
        pid: None,
        user: Some("tester".into()),
    }
}

/// A session for `archive` on one end of a socket pair; the other end.
fn serve(archive: &Archive) -> UnixStream {
    let (ours, theirs) = UnixStream::pair().unwrap();
    let serves = session::absolute(&archive.options().path);
    let archive = archive.clone();
    tokio::spawn(async move {
        session::serve(
            theirs,
            me(),
            archive,
            None,
            &serves,
            None,
            CancellationToken::new(),
        )
        .await;
    });
    ours
}

/// Sends `command` for `archive`'s own path.
async fn open(archive: &Archive, command: Command) -> Conn {
    let (read, write) = serve(archive).into_split();
    let mut conn = Conn {
        input: FrameReader::new(read),
        output: FrameWriter::new(write),
    };
    let request = Request {
        archive: Some(archive.options().path.clone()),
        command,
    };
    conn.output.send(&request, b"").await.unwrap();
    conn
}

/// Every reply until the connection ends.
async fn replies(conn: &mut Conn) -> Vec<(Reply, Vec<u8>)> {
    let mut out = Vec::new();
    while let Some(frame) = conn.input.read().await.unwrap() {
        out.push((frame.decode::<Reply>().unwrap(), frame.body));
    }
    out
}

fn message(n: usize, size: usize) -> NewMessage {
    let mut bytes = format!("From: a{n}@example.com\r\nSubject: m{n}\r\n\r\n").into_bytes();
    bytes.resize(size, b'x');
    NewMessage {
        meta: MessageMeta {
            source: Source {
                kind: SourceKind::Import,
                name: "eml".into(),
            },
            import: Some(ImportContext {
                kind: "eml".into(),
                origin: format!("/in/{n}.eml"),
                ..ImportContext::default()
            }),
            ..MessageMeta::default()
        },
        content: SpooledContent::from_bytes(bytes),
        evidence: None,
    }
}

async fn archive_in(dir: &Path) -> Archive {
    let dir = dir.to_path_buf();
    tokio::task::spawn_blocking(move || Archive::open_dir(&dir))
        .await
        .unwrap()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_import_pipelines_and_the_reads_see_it() {
    let dir = tempfile::tempdir().unwrap();
    let archive = archive_in(dir.path()).await;
    let (read, write) = open(&archive, Command::Import).await.input_output();
    let sink = RemoteSink::start(read, write);
    // Many appends in flight at once, one past the spool's memory limit.
    let appends: Vec<_> = (0..40)
        .map(|n| sink.append(message(n, if n == 7 { 3 << 20 } else { 500 + n })))
        .collect();
    let mut seqs = Vec::new();
    for append in appends {
        seqs.push(append.await.unwrap().seq);
    }
    seqs.sort_unstable();
    assert_eq!(seqs, (1..=40).collect::<Vec<u64>>());
    assert_eq!(sink.imap_highest_uid("imap://x", 1).await.unwrap(), None);
    sink.finish().await.unwrap();

    let mut conn = open(
        &archive,
        Command::List {
            filter: Filter::default(),
        },
    )
    .await;
    let listed = replies(&mut conn).await;
    assert_eq!(listed.len(), 41, "40 summaries and done");
    assert_eq!(listed.last().unwrap().0, Reply::Done);

    let mut conn = open(&archive, Command::ShowRaw { id: 8 }).await;
    let raw: Vec<u8> = replies(&mut conn)
        .await
        .into_iter()
        .filter(|(r, _)| *r == Reply::Data)
        .flat_map(|(_, body)| body)
        .collect();
    assert_eq!(raw.len(), 3 << 20);
    assert!(raw.starts_with(b"From: a7@example.com\r\n"));

    let mut conn = open(&archive, Command::Show { id: 99 }).await;
    match &replies(&mut conn).await[..] {
        [(Reply::Error { kind, message }, _)] => {
            assert_eq!(*kind, ErrorKind::NotFound);
            assert_eq!(message, "no record 99");
        }
        other => panic!("{other:?}"),
    }
    tokio::task::spawn_blocking(move || archive.close().unwrap())
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_that_arrives_damaged_is_not_archived() {
    let dir = tempfile::tempdir().unwrap();
    let archive = archive_in(dir.path()).await;
    let mut conn = open(&archive, Command::Import).await;
    let upload = Upload::Append {
        source: "eml".into(),
        auth_user: None,
        import: Box::new(ImportContext {
            kind: "eml".into(),
            origin: "/in/x.eml".into(),
            ..ImportContext::default()
        }),
        size: 5,
        sha256: hex::encode([0u8; 32]),
    };
    conn.output.write(&upload, b"").await.unwrap();
    conn.output.send(&Upload::Data, b"hello").await.unwrap();
    match &replies(&mut conn).await[..] {
        [(Reply::Error { kind, message }, _)] => {
            assert_eq!(*kind, ErrorKind::Refused);
            assert!(message.contains("nothing was archived"), "{message}");
        }
        other => panic!("{other:?}"),
    }
    // A forged source kind cannot get in either: the request is not JSON
    // the daemon knows, and the connection ends with a protocol error.
    let mut conn = open(&archive, Command::Import).await;
    let forged = serde_json::json!({"type": "append", "source": "mx", "kind": "smtp-proxy"});
    conn.output.send(&forged, b"").await.unwrap();
    match &replies(&mut conn).await[..] {
        [(Reply::Error { kind, .. }, _)] => assert_eq!(*kind, ErrorKind::Protocol),
        other => panic!("{other:?}"),
    }
    let reader = archive.reader();
    assert_eq!(reader.head().unwrap().seq, 0, "nothing archived");
    tokio::task::spawn_blocking(move || archive.close().unwrap())
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_for_another_archive_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let archive = archive_in(dir.path()).await;
    let (read, write) = serve(&archive).into_split();
    let mut conn = Conn {
        input: FrameReader::new(read),
        output: FrameWriter::new(write),
    };
    let request = Request {
        archive: Some(dir.path().join("elsewhere")),
        command: Command::Stats,
    };
    conn.output.send(&request, b"").await.unwrap();
    match &replies(&mut conn).await[..] {
        [(Reply::Error { kind, message }, _)] => {
            assert_eq!(*kind, ErrorKind::Refused);
            assert!(message.contains("elsewhere"), "{message}");
        }
        other => panic!("{other:?}"),
    }
    tokio::task::spawn_blocking(move || archive.close().unwrap())
        .await
        .unwrap();
}

/// Every `inclusion` proof of a `prove` answer, or the error.
async fn proofs(archive: &Archive, seqs: Vec<u64>) -> Result<Vec<InclusionProof>, String> {
    let command = Command::Prove {
        seqs,
        tree_size: None,
    };
    let mut conn = open(archive, command).await;
    let mut out = Vec::new();
    for (reply, _) in replies(&mut conn).await {
        match reply {
            Reply::Inclusion { proof } => out.push(*proof),
            Reply::Done => return Ok(out),
            Reply::Error { message, .. } => return Err(message),
            other => panic!("{other:?}"),
        }
    }
    Err("no done".into())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn proofs_from_the_tree_file_match_the_records_and_survive_a_damaged_file() {
    let dir = tempfile::tempdir().unwrap();
    let archive = archive_in(dir.path()).await;
    for n in 0..5 {
        archive.append(message(n, 700 + n)).await.unwrap();
    }
    let sealed = archive.seal().await.unwrap().unwrap();
    let reader = archive.reader();
    let memory = Prover::new(&reader, source::memory(&reader, sealed.seq).unwrap()).unwrap();
    let want: Vec<InclusionProof> = (1..=5)
        .map(|seq| memory.inclusion(seq, &sealed).unwrap())
        .collect();
    assert_eq!(proofs(&archive, (1..=5).collect()).await.unwrap(), want);

    // A tree file gone bad: the daemon proves from memory instead.
    let nodes = dir.path().join("tree").join("nodes");
    let len = std::fs::metadata(&nodes).unwrap().len() as usize;
    std::fs::write(&nodes, vec![0u8; len]).unwrap();
    assert_eq!(proofs(&archive, (1..=5).collect()).await.unwrap(), want);

    let unsealed = archive.append(message(9, 900)).await.unwrap().seq;
    let refused = proofs(&archive, vec![unsealed]).await.unwrap_err();
    assert!(
        refused.contains("not sealed by a tree head yet"),
        "{refused}"
    );

    // The rotation through the socket: the old key seals up to it, the
    // new one from it on.
    let old = archive.public_key();
    let mut conn = open(&archive, Command::RotateSeal).await;
    let (seq, seal) = match &replies(&mut conn).await[..] {
        [(Reply::Rotated { seq, seal }, _), (Reply::Done, _)] => (*seq, seal.clone()),
        other => panic!("{other:?}"),
    };
    // After the message, the audit record of the refused `prove`.
    assert_eq!(seq, unsealed + 2);
    assert_eq!(seal.seq, seq);
    assert_ne!(archive.public_key(), old);
    assert_eq!(
        seal.public_key,
        hex::encode(archive.public_key().as_bytes())
    );
    let seals = archive.reader().seals().unwrap();
    let before = seals.iter().find(|s| s.seq == seq - 1).unwrap();
    assert_eq!(before.public_key, hex::encode(old.as_bytes()));
    tokio::task::spawn_blocking(move || archive.close().unwrap())
        .await
        .unwrap();
}

//! The frame parser fed whole frames, every byte split, garbage, other
//! versions and oversize lengths; the messages round-tripped.

use super::*;

fn list_request() -> Request {
    Request {
        archive: Some(PathBuf::from("/var/lib/mailseal/archive")),
        command: Command::List {
            filter: Filter {
                from: Some("a@example.com".into()),
                ..Filter::default()
            },
        },
    }
}

fn two_frames() -> Vec<u8> {
    let mut bytes = encode(&list_request(), b"").unwrap();
    bytes.extend(encode(&Upload::Data, b"body \x00\xff bytes\r\n.\r\n").unwrap());
    bytes
}

#[test]
fn a_frame_round_trips() {
    let bytes = encode(&list_request(), b"").unwrap();
    let (frame, used) = parse(&bytes).unwrap().unwrap();
    assert_eq!(used, bytes.len());
    assert_eq!(frame.decode::<Request>().unwrap(), list_request());
    assert!(frame.body.is_empty());
}

#[test]
fn every_split_point_gives_the_same_frames() {
    let bytes = two_frames();
    for split in 0..=bytes.len() {
        // The reader accumulates: first `split` bytes, then the rest.
        let mut buf = bytes[..split].to_vec();
        let mut frames = Vec::new();
        let mut rest = &bytes[split..];
        loop {
            match parse(&buf).unwrap() {
                Some((frame, used)) => {
                    frames.push(frame);
                    buf.drain(..used);
                }
                None if rest.is_empty() => break,
                None => {
                    buf.extend_from_slice(rest);
                    rest = &[];
                }
            }
        }
        assert_eq!(frames.len(), 2, "split at {split}");
        assert_eq!(frames[0].decode::<Request>().unwrap(), list_request());
        assert_eq!(frames[1].decode::<Upload>().unwrap(), Upload::Data);
        assert_eq!(frames[1].body, b"body \x00\xff bytes\r\n.\r\n");
        assert!(buf.is_empty());
    }
}

#[test]
fn garbage_is_refused_from_the_first_byte() {
    assert!(matches!(parse(b"G"), Err(ProtocolError::NotControl)));
    assert!(matches!(
        parse(b"GET / HTTP/1.1\r\n\r\n"),
        Err(ProtocolError::NotControl)
    ));
    assert!(matches!(parse(b"M\x00"), Err(ProtocolError::NotControl)));
    assert!(matches!(
        parse(b"\x00\x00\x00\x00"),
        Err(ProtocolError::NotControl)
    ));
    assert!(matches!(parse(b""), Ok(None)));
    assert!(matches!(parse(b"M"), Ok(None)));
}

#[test]
fn another_version_is_named() {
    let mut bytes = encode(&Reply::Done, b"").unwrap();
    bytes[2] = 2;
    let err = parse(&bytes[..3]).unwrap_err();
    assert!(matches!(err, ProtocolError::Version(2)), "{err}");
    assert!(err.to_string().contains("version 2"), "{err}");
}

#[test]
fn oversize_lengths_are_refused_before_the_bytes_arrive() {
    let mut prefix = MAGIC.to_vec();
    prefix.push(VERSION);
    let mut header_too_big = prefix.clone();
    header_too_big.extend(((MAX_HEADER + 1) as u32).to_be_bytes());
    header_too_big.extend(0u32.to_be_bytes());
    assert!(matches!(
        parse(&header_too_big),
        Err(ProtocolError::HeaderTooLarge(_))
    ));
    let mut body_too_big = prefix;
    body_too_big.extend(2u32.to_be_bytes());
    body_too_big.extend(u32::MAX.to_be_bytes());
    assert!(matches!(
        parse(&body_too_big),
        Err(ProtocolError::BodyTooLarge(_))
    ));
    assert!(matches!(
        encode(&Upload::Data, &vec![0; MAX_BODY + 1]),
        Err(ProtocolError::BodyTooLarge(_))
    ));
}

#[test]
fn a_header_that_is_not_the_expected_json_is_an_error() {
    let bytes = encode(&serde_json::json!({"type": "format-disk"}), b"").unwrap();
    let (frame, _) = parse(&bytes).unwrap().unwrap();
    assert_eq!(frame.kind(), "format-disk");
    assert!(matches!(
        frame.decode::<Request>(),
        Err(ProtocolError::BadHeader(_))
    ));
    let not_json = {
        let mut b = MAGIC.to_vec();
        b.push(VERSION);
        b.extend(3u32.to_be_bytes());
        b.extend(0u32.to_be_bytes());
        b.extend(b"{{{");
        b
    };
    let (frame, _) = parse(&not_json).unwrap().unwrap();
    assert_eq!(frame.kind(), "untyped");
    assert!(frame.decode::<Upload>().is_err());
}

#[test]
fn unknown_fields_in_a_request_are_refused() {
    let json = serde_json::json!({
        "archive": null,
        "command": {"type": "show", "id": 3, "and_delete_it": true}
    });
    let bytes = encode(&json, b"").unwrap();
    let (frame, _) = parse(&bytes).unwrap().unwrap();
    assert!(frame.decode::<Request>().is_err());
}

#[test]
fn replies_and_uploads_round_trip() {
    let replies = [
        Reply::Data,
        Reply::ContentEnd { size: 7 },
        Reply::Appended {
            seq: 4,
            hash: "ab".into(),
            deduplicated: true,
        },
        Reply::HighestUid { uid: Some(9) },
        Reply::Archived { uids: vec![1, 3] },
        Reply::Reindexed { records: 12 },
        Reply::Done,
        Reply::Error {
            kind: ErrorKind::NotFound,
            message: "no record 9".into(),
        },
    ];
    for reply in replies {
        let (frame, _) = parse(&encode(&reply, b"").unwrap()).unwrap().unwrap();
        assert_eq!(frame.decode::<Reply>().unwrap(), reply);
    }
    let uploads = [
        Upload::Append {
            source: "eml".into(),
            auth_user: None,
            import: Box::default(),
            size: 3,
            sha256: "00".into(),
        },
        Upload::HighestUid {
            origin: "imap://a@h/INBOX".into(),
            uidvalidity: 1,
        },
        Upload::Archived {
            origin: "imap://a@h/INBOX".into(),
            uidvalidity: 1,
            uids: vec![5],
        },
        Upload::Finish,
    ];
    for upload in uploads {
        let (frame, _) = parse(&encode(&upload, b"").unwrap()).unwrap().unwrap();
        assert_eq!(frame.decode::<Upload>().unwrap(), upload);
    }
    for command in [
        Command::Stats,
        Command::Reindex,
        Command::Import,
        Command::ShowRaw { id: 1 },
        Command::Export {
            filter: Filter::default(),
            query: None,
        },
        Command::Export {
            filter: Filter::default(),
            query: Some("from:a@example.org".into()),
        },
        Command::Search {
            query: "rechnung".into(),
            limit: 10,
            sort: "-date".into(),
            cursor: None,
        },
        Command::SearchCheck { repair: true },
    ] {
        let request = Request {
            archive: None,
            command,
        };
        let (frame, _) = parse(&encode(&request, b"").unwrap()).unwrap().unwrap();
        assert_eq!(frame.decode::<Request>().unwrap(), request);
    }
}

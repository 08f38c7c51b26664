//! The stream both ways round: STARTTLS in place on the server and the
//! client side, what a failed handshake leaves, addresses that survive an
//! upgrade, and the byte-at-a-time line read. [`tls_pair`] is the
//! throwaway certificate the other TLS tests of the crate use too.

use std::sync::Arc;

use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _, DuplexStream};
use tokio::net::TcpListener;

use super::*;

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// A server config for `localhost` and a client config that trusts it.
pub(crate) fn tls_pair() -> (Arc<rustls::ServerConfig>, Arc<rustls::ClientConfig>) {
    let certified = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let cert = CertificateDer::from(certified.cert.der().to_vec());
    let key = PrivatePkcs8KeyDer::from(certified.key_pair.serialize_der());
    let server = rustls::ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![cert.clone()], PrivateKeyDer::Pkcs8(key))
        .unwrap();
    let mut roots = rustls::RootCertStore::empty();
    roots.add(cert).unwrap();
    let client = rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    (Arc::new(server), Arc::new(client))
}

fn localhost() -> ServerName<'static> {
    ServerName::try_from("localhost").unwrap()
}

/// Both ends of an in-memory connection.
fn pair() -> (Stream<DuplexStream>, Stream<DuplexStream>) {
    let (a, b) = tokio::io::duplex(64 * 1024);
    (Stream::new(a), Stream::new(b))
}

/// Upgrades both ends at once; returns what each side saw.
async fn upgrade<S: AsyncRead + AsyncWrite + Unpin>(
    server: &mut Stream<S>,
    client: &mut Stream<S>,
) -> (io::Result<TlsInfo>, io::Result<TlsInfo>) {
    let (server_tls, client_tls) = tls_pair();
    tokio::join!(
        server.accept_tls(server_tls),
        client.connect_tls(client_tls, localhost())
    )
}

#[tokio::test]
async fn starttls_upgrades_both_ends_in_place() {
    let (mut server, mut client) = pair();
    client.write_all(b"a STARTTLS\r\n").await.unwrap();
    assert_eq!(server.read_line(100).await.unwrap(), b"a STARTTLS\r\n");
    server.write_all(b"a OK go\r\n").await.unwrap();
    assert_eq!(client.read_line(100).await.unwrap(), b"a OK go\r\n");
    assert!(!server.is_tls() && server.tls_info().is_none());

    let (accepted, connected) = upgrade(&mut server, &mut client).await;
    let (accepted, connected) = (accepted.unwrap(), connected.unwrap());
    assert_eq!(accepted, connected);
    assert_eq!(accepted.version, "TLSv1_3");
    assert_eq!(server.tls_info(), Some(accepted));
    assert!(client.is_tls());

    client.write_all(b"secret\r\n").await.unwrap();
    client.flush().await.unwrap();
    assert_eq!(server.read_line(100).await.unwrap(), b"secret\r\n");
    server.write_all(b"back\r\n").await.unwrap();
    server.flush().await.unwrap();
    assert_eq!(client.read_line(100).await.unwrap(), b"back\r\n");
}

#[tokio::test]
async fn a_failed_handshake_leaves_the_stream_gone() {
    let (mut server, mut client) = pair();
    let (server_tls, _) = tls_pair();
    client.write_all(b"this is no TLS hello\r\n").await.unwrap();
    client.shutdown().await.unwrap();
    assert!(server.accept_tls(server_tls.clone()).await.is_err());
    assert!(!server.is_tls() && server.tls_info().is_none());
    let mut byte = [0u8];
    let read = server.read(&mut byte).await.unwrap_err();
    assert_eq!(read.kind(), io::ErrorKind::NotConnected);
    assert!(server.write_all(b"x").await.is_err());
    assert!(server.flush().await.is_err());
    server.shutdown().await.unwrap();
    assert!(server.accept_tls(server_tls).await.is_err(), "a second try");
}

#[tokio::test]
async fn a_second_upgrade_is_refused_and_keeps_the_tls_stream() {
    let (mut server, mut client) = pair();
    let (accepted, connected) = upgrade(&mut server, &mut client).await;
    accepted.unwrap();
    connected.unwrap();
    let (server_tls, client_tls) = tls_pair();
    assert!(server.accept_tls(server_tls).await.is_err());
    assert!(client.connect_tls(client_tls, localhost()).await.is_err());
    client.write_all(b"still here\n").await.unwrap();
    client.flush().await.unwrap();
    assert_eq!(server.read_line(100).await.unwrap(), b"still here\n");
}

#[tokio::test]
async fn tcp_streams_keep_their_addresses_through_tls() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let at = listener.local_addr().unwrap();
    let (client, accepted) = tokio::join!(Stream::connect(at), listener.accept());
    let mut client = client.unwrap();
    let (tcp, peer) = accepted.unwrap();
    let mut server = Stream::tcp(tcp);
    assert_eq!(server.peer_addr(), Some(peer));
    assert_eq!(server.local_addr(), Some(at));
    assert_eq!(client.peer_addr(), Some(at));
    assert_eq!(client.local_addr(), Some(peer));
    let (accepted, connected) = upgrade(&mut server, &mut client).await;
    accepted.unwrap();
    connected.unwrap();
    assert_eq!(
        (server.peer_addr(), server.local_addr()),
        (Some(peer), Some(at))
    );
    let (memory, _) = pair();
    assert_eq!((memory.peer_addr(), memory.local_addr()), (None, None));
}

#[tokio::test]
async fn read_line_stops_at_the_line_end() {
    let (mut a, mut b) = pair();
    b.write_all(b"* OK hi\r\nrest").await.unwrap();
    assert_eq!(a.read_line(100).await.unwrap(), b"* OK hi\r\n");
    let mut rest = [0u8; 4];
    a.read_exact(&mut rest).await.unwrap();
    assert_eq!(&rest, b"rest");
    b.write_all(b"0123456789").await.unwrap();
    let long = a.read_line(5).await.unwrap_err();
    assert_eq!(long.kind(), io::ErrorKind::InvalidData);
    drop(b);
    let rest = a.read_line(100).await.unwrap_err();
    assert_eq!(rest.kind(), io::ErrorKind::UnexpectedEof);
}

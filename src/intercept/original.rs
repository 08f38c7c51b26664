//! Where an intercepted connection was headed: the connection tracker's
//! record of a redirected connection, or a TPROXY socket's own address;
//! and whether an address is this machine's (a loop).

use std::io;
use std::net::{IpAddr, SocketAddr, UdpSocket};

use socket2::SockRef;
use tokio::net::TcpStream;

/// The destination before nftables `redirect` / `dnat` rewrote it:
/// `SO_ORIGINAL_DST` for IPv4 (IPv4-mapped addresses on a dual-stack
/// socket included), `IP6T_SO_ORIGINAL_DST` for IPv6.
pub(super) fn redirected(tcp: &TcpStream) -> io::Result<SocketAddr> {
    let local = tcp.local_addr()?;
    let socket = SockRef::from(tcp);
    let original = if local.ip().to_canonical().is_ipv4() {
        socket.original_dst_v4()?
    } else {
        socket.original_dst_v6()?
    };
    let addr = original
        .as_socket()
        .ok_or_else(|| io::Error::other("original destination is not an IP address"))?;
    Ok(canonical(addr))
}

/// Under TPROXY the kernel hands the connection over unchanged, so the
/// accepted socket's own address is where the client was going.
pub(super) fn tproxied(tcp: &TcpStream) -> io::Result<SocketAddr> {
    tcp.local_addr().map(canonical)
}

/// `::ffff:192.0.2.1` as `192.0.2.1`, so allow-lists and logs see one form.
fn canonical(addr: SocketAddr) -> SocketAddr {
    SocketAddr::new(addr.ip().to_canonical(), addr.port())
}

/// True when `ip` belongs to this machine (its network namespace):
/// loopback, unspecified, or an address a plain socket may bind, which the
/// kernel allows only for local addresses. A redirected connection to
/// such an address would come back to mailseal or reach a local service
/// through it. (With `net.ipv4.ip_nonlocal_bind` set every address looks
/// local and every connection is refused: fail closed.)
pub(super) fn is_this_machine(ip: IpAddr) -> bool {
    let ip = ip.to_canonical();
    ip.is_loopback() || ip.is_unspecified() || UdpSocket::bind(SocketAddr::new(ip, 0)).is_ok()
}

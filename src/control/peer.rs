//! Who is calling: the Unix user behind a control connection
//! (`SO_PEERCRED`, which the kernel fills in and the client cannot forge),
//! and the name lookups the socket's set-up needs.

use std::ffi::{CStr, CString};

/// The process at the other end of a control connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Peer {
    /// Its user id.
    pub uid: u32,
    /// Its group id.
    pub gid: u32,
    /// Its process id, when the kernel reports one.
    pub pid: Option<i32>,
    /// The user's name (`None` when the uid has no passwd entry); the
    /// audit trail names people, not numbers.
    pub user: Option<String>,
}

impl Peer {
    /// The peer of `stream`. Its user name is looked up on the blocking
    /// pool: NSS may read files or ask a directory server.
    pub async fn of(stream: &tokio::net::UnixStream) -> std::io::Result<Peer> {
        let cred = stream.peer_cred()?;
        let uid = cred.uid();
        let user = tokio::task::spawn_blocking(move || user_name(uid))
            .await
            .ok()
            .flatten();
        Ok(Peer {
            uid,
            gid: cred.gid(),
            pid: cred.pid(),
            user,
        })
    }

    /// The user's name, or `#UID` when it has none.
    pub fn name(&self) -> String {
        self.user
            .clone()
            .unwrap_or_else(|| format!("#{}", self.uid))
    }
}

/// Largest buffer offered to the `get*_r` functions.
const MAX_BUF: usize = 1 << 20;

/// The name of user `uid`, through NSS (`/etc/passwd`, LDAP, sssd, …).
pub fn user_name(uid: u32) -> Option<String> {
    let mut buf = vec![0 as libc::c_char; 1024];
    loop {
        // SAFETY: `passwd` is plain data; getpwuid_r fills it with pointers
        // into `buf`, which outlives every use below, and writes at most
        // `buf.len()` bytes there.
        let mut pwd: libc::passwd = unsafe { std::mem::zeroed() };
        let mut found: *mut libc::passwd = std::ptr::null_mut();
        let rc =
            unsafe { libc::getpwuid_r(uid, &mut pwd, buf.as_mut_ptr(), buf.len(), &mut found) };
        if rc == libc::ERANGE && buf.len() < MAX_BUF {
            buf.resize(buf.len() * 4, 0);
            continue;
        }
        if rc != 0 || found.is_null() || pwd.pw_name.is_null() {
            return None;
        }
        // SAFETY: on success `pw_name` points at a NUL-terminated string in `buf`.
        let name = unsafe { CStr::from_ptr(pwd.pw_name) };
        return Some(name.to_string_lossy().into_owned());
    }
}

/// The id of group `name`, through NSS.
pub fn group_id(name: &str) -> Option<u32> {
    let cname = CString::new(name).ok()?;
    let mut buf = vec![0 as libc::c_char; 1024];
    loop {
        // SAFETY: as in `user_name`; `cname` is NUL-terminated.
        let mut grp: libc::group = unsafe { std::mem::zeroed() };
        let mut found: *mut libc::group = std::ptr::null_mut();
        let rc = unsafe {
            libc::getgrnam_r(
                cname.as_ptr(),
                &mut grp,
                buf.as_mut_ptr(),
                buf.len(),
                &mut found,
            )
        };
        if rc == libc::ERANGE && buf.len() < MAX_BUF {
            buf.resize(buf.len() * 4, 0);
            continue;
        }
        if rc != 0 || found.is_null() {
            return None;
        }
        return Some(grp.gr_gid);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_has_a_name_and_group_zero() {
        assert_eq!(user_name(0).as_deref(), Some("root"));
        assert_eq!(group_id("root"), Some(0));
        assert_eq!(group_id("no-such-group-here"), None);
        assert_eq!(group_id("nul\0inside"), None);
    }

    #[tokio::test]
    async fn a_socket_pair_sees_this_process() {
        let (a, _b) = tokio::net::UnixStream::pair().unwrap();
        let peer = Peer::of(&a).await.unwrap();
        assert_eq!(peer.pid, Some(std::process::id() as i32));
        assert_eq!(peer.user, user_name(peer.uid));
        // SAFETY: getuid cannot fail.
        assert_eq!(peer.uid, unsafe { libc::getuid() });
    }
}

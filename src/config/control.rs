//! `[control]`: the local socket through which the CLI reaches the daemon.

use std::path::PathBuf;

use serde::Deserialize;

use super::problem::{At, Problems};

/// Where `mailseal run` listens by default (systemd's `RuntimeDirectory`).
pub const DEFAULT_SOCKET: &str = "/run/mailseal/control.sock";

/// The group whose members may use the socket by default.
pub const DEFAULT_GROUP: &str = "mailseal-admin";

/// Longest socket path the kernel takes (`sun_path` holds 108 bytes with
/// its terminating NUL).
const MAX_SOCKET_PATH: usize = 107;

/// `[control]` as written in the file.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawControl {
    /// Path of the Unix socket.
    #[serde(default = "default_socket")]
    socket: PathBuf,
    /// Group the socket is given (mode 0660).
    #[serde(default = "default_group")]
    group: String,
}

fn default_socket() -> PathBuf {
    PathBuf::from(DEFAULT_SOCKET)
}
fn default_group() -> String {
    DEFAULT_GROUP.to_owned()
}

impl Default for RawControl {
    /// A missing `[control]` section.
    fn default() -> Self {
        RawControl {
            socket: default_socket(),
            group: default_group(),
        }
    }
}

/// `[control]`, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ControlConfig {
    /// The Unix socket the daemon listens on and the CLI connects to.
    pub socket: PathBuf,
    /// The group that may connect (the socket is mode 0660); the CLI names
    /// it when a user lacks the permission.
    pub group: String,
}

impl Default for ControlConfig {
    /// `/run/mailseal/control.sock`, group `mailseal-admin`.
    fn default() -> Self {
        ControlConfig {
            socket: default_socket(),
            group: default_group(),
        }
    }
}

impl RawControl {
    /// Checks that the path fits a socket address and the group is a name.
    pub(crate) fn validate(self, p: &mut Problems) -> Option<ControlConfig> {
        let at = At::section("control", None);
        let len = self.socket.as_os_str().len();
        let socket_ok = len > 0 && len <= MAX_SOCKET_PATH;
        if !socket_ok {
            p.push(
                at.key("socket"),
                format!("a socket path must be 1 to {MAX_SOCKET_PATH} bytes long, not {len}"),
            );
        }
        let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.');
        let group_ok = !self.group.is_empty() && self.group.chars().all(allowed);
        if !group_ok {
            p.push(
                at.key("group"),
                format!("invalid group name {:?}", self.group),
            );
        }
        (socket_ok && group_ok).then_some(ControlConfig {
            socket: self.socket,
            group: self.group,
        })
    }
}

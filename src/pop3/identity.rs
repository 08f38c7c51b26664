//! Who logs in, read from the client's commands without I/O: the name of
//! `USER` and `APOP`, and the identity inside a SASL `PLAIN` or `LOGIN`
//! response. Records keep the name; the secret is never kept or logged.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

/// The user named by the first client response of a SASL exchange
/// (`initial` response or the answer to the first challenge), for the
/// mechanisms that carry it in the clear: `PLAIN` (the authorization
/// identity when given, else the authentication identity) and `LOGIN`
/// (the first response is the name). `None` for any other mechanism
/// (the record then names no user; the upstream still decides).
pub fn sasl_user(mechanism: &str, response: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(response)
        .ok()?
        .trim_end_matches(['\r', '\n']);
    let decoded = STANDARD.decode(text).ok()?;
    let name = match mechanism {
        "PLAIN" => {
            let mut parts = decoded.split(|&b| b == 0);
            let authz = parts.next()?;
            let authc = parts.next()?;
            parts.next()?;
            if authz.is_empty() { authc } else { authz }.to_vec()
        }
        "LOGIN" => decoded,
        _ => return None,
    };
    let name = String::from_utf8(name).ok()?;
    (!name.is_empty()).then_some(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_and_login_name_the_user() {
        assert_eq!(
            sasl_user("PLAIN", b"AGFsaWNlAHNlY3JldA==\r\n").as_deref(),
            Some("alice")
        );
        let authz = STANDARD.encode(b"boss\0alice\0pw");
        assert_eq!(
            sasl_user("PLAIN", authz.as_bytes()).as_deref(),
            Some("boss")
        );
        assert_eq!(sasl_user("LOGIN", b"YWxpY2U=").as_deref(), Some("alice"));
        assert_eq!(sasl_user("PLAIN", b"bm9udWxscw=="), None);
        assert_eq!(sasl_user("PLAIN", b"***"), None);
        assert_eq!(sasl_user("XOAUTH2", b"YWxpY2U="), None);
        assert_eq!(sasl_user("LOGIN", b""), None);
    }
}

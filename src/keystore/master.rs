//! The master key file (`archive.master_key_file`): two ASCII lines,
//! `mailseal master key v1` and 64 lowercase hex digits, mode 0600. The
//! key wraps every slot of the key store; its id, a hash of it, is what
//! the store's header names, so a wrong file is refused rather than used.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use chacha20poly1305::{ChaCha20Poly1305, Key, KeyInit};
use rand::RngCore;
use rand::rngs::OsRng;
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use super::KeyStoreError;
use super::disk::{io_err, remove_if_present, sync_parent};

/// The file's first line: names the format.
const FIRST_LINE: &str = "mailseal master key v1";

/// What the id hashes before the key, so the id is never a hash of the key
/// that some other use of SHA-256 also produces.
const ID_DOMAIN: &[u8] = b"mailseal master key id\n";

/// A master key file is two short lines; anything much longer is not one.
const MAX_FILE_LEN: u64 = 1024;

/// The master key and its id. Its bytes are wiped when dropped.
pub struct MasterKey {
    /// The 32 key bytes.
    key: Zeroizing<[u8; 32]>,
    /// First 16 bytes of SHA-256(`ID_DOMAIN` ‖ key): names the key in the
    /// store's header and in messages without revealing it.
    id: [u8; 16],
}

impl MasterKey {
    /// A fresh random key from the operating system.
    pub fn generate() -> Result<MasterKey, String> {
        let mut key = Zeroizing::new([0u8; 32]);
        OsRng
            .try_fill_bytes(&mut *key)
            .map_err(|e| format!("no random bytes from the operating system: {e}"))?;
        Ok(MasterKey::from_bytes(key))
    }

    /// The key with these bytes.
    pub fn from_bytes(key: Zeroizing<[u8; 32]>) -> MasterKey {
        let mut h = Sha256::new();
        h.update(ID_DOMAIN);
        h.update(&key[..]);
        let digest = h.finalize();
        let mut id = [0u8; 16];
        id.copy_from_slice(&digest[..16]);
        MasterKey { key, id }
    }

    /// The key's id.
    pub fn id(&self) -> [u8; 16] {
        self.id
    }

    /// The cipher that wraps and unwraps slots (it wipes its own copy of
    /// the key when dropped).
    pub fn cipher(&self) -> ChaCha20Poly1305 {
        ChaCha20Poly1305::new(Key::from_slice(&*self.key))
    }

    /// The file's bytes, built in one buffer that is wiped afterwards (a
    /// `format!` would leave copies of the hex key in freed memory).
    fn encode(&self) -> Zeroizing<String> {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let mut text = Zeroizing::new(String::with_capacity(FIRST_LINE.len() + 66));
        text.push_str(FIRST_LINE);
        text.push('\n');
        for b in self.key.iter() {
            text.push(char::from(HEX[usize::from(b >> 4)]));
            text.push(char::from(HEX[usize::from(b & 0x0f)]));
        }
        text.push('\n');
        text
    }

    /// Reads and parses a master key file.
    pub fn read(path: &Path) -> Result<MasterKey, KeyStoreError> {
        let bad = |reason: String| KeyStoreError::MasterKey {
            path: path.display().to_string(),
            reason,
        };
        let mut file = File::open(path).map_err(io_err(path))?;
        let meta = file.metadata().map_err(io_err(path))?;
        if meta.len() > MAX_FILE_LEN {
            return Err(bad(format!("{} bytes, not a master key file", meta.len())));
        }
        if meta.permissions().mode() & 0o077 != 0 {
            tracing::warn!(
                path = %path.display(),
                mode = format!("{:o}", meta.permissions().mode() & 0o777),
                "master key file is readable by others than its owner; chmod 600 it"
            );
        }
        // Room for the whole file up front: growing the buffer would leave
        // copies of the key behind in freed memory.
        let mut text = Zeroizing::new(String::with_capacity(MAX_FILE_LEN as usize + 1));
        io::Read::read_to_string(&mut file, &mut text)
            .map_err(|e| bad(format!("not ASCII text ({e})")))?;
        let key = parse(&text).map_err(bad)?;
        Ok(MasterKey::from_bytes(key))
    }

    /// Writes the key to `path`, which must not exist yet (a stale file
    /// there is removed first), mode 0600, and syncs it and its directory.
    pub fn write(&self, path: &Path) -> Result<(), KeyStoreError> {
        remove_if_present(path)?;
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path)
            .map_err(io_err(path))?;
        file.write_all(self.encode().as_bytes())
            .map_err(io_err(path))?;
        file.sync_all().map_err(io_err(path))?;
        sync_parent(path)
    }
}

/// Parses the file's text: the first line, then the key; surrounding
/// blanks and a missing last newline are forgiven (a key typed back in
/// from a paper copy), nothing else is.
fn parse(text: &str) -> Result<Zeroizing<[u8; 32]>, String> {
    let mut lines = text.lines().map(str::trim).filter(|l| !l.is_empty());
    if lines.next() != Some(FIRST_LINE) {
        return Err(format!("does not start with `{FIRST_LINE}`"));
    }
    let Some(hex_key) = lines.next() else {
        return Err("the key line is missing".into());
    };
    if lines.next().is_some() {
        return Err("has more than the two lines of a master key file".into());
    }
    let mut key = Zeroizing::new([0u8; 32]);
    if hex_key.len() != 64 || hex::decode_to_slice(hex_key, &mut *key).is_err() {
        return Err("the key line is not 64 hex digits".into());
    }
    Ok(key)
}

/// Where a rotation writes the next master key: `<file>.new`.
pub fn new_path(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".new");
    PathBuf::from(name)
}

/// An id as messages print it.
pub fn id_hex(id: &[u8; 16]) -> String {
    hex::encode(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_file_is_the_documented_two_lines_and_the_id_its_documented_hash() {
        let key = MasterKey::from_bytes(Zeroizing::new([0xab; 32]));
        let text = key.encode();
        assert_eq!(
            text.as_str(),
            format!("mailseal master key v1\n{}\n", "ab".repeat(32))
        );
        let mut input = b"mailseal master key id\n".to_vec();
        input.extend_from_slice(&[0xab; 32]);
        assert_eq!(key.id()[..], Sha256::digest(&input)[..16]);
        assert_eq!(*parse(&text).unwrap(), [0xab; 32]);
    }

    #[test]
    fn a_key_typed_back_in_is_read_and_anything_else_refused() {
        let hex_key = "0f".repeat(32);
        let typed = format!("  mailseal master key v1\r\n\n{}  ", hex_key.to_uppercase());
        assert_eq!(*parse(&typed).unwrap(), [0x0f; 32]);
        for bad in [
            String::new(),
            format!("mailseal master key v2\n{hex_key}\n"),
            "mailseal master key v1\n".to_string(),
            format!("mailseal master key v1\n{}\n", &hex_key[1..]),
            format!("mailseal master key v1\n{}zz\n", &hex_key[2..]),
            format!("mailseal master key v1\n{hex_key}\n{hex_key}\n"),
        ] {
            assert!(parse(&bad).is_err(), "{bad:?} parsed");
        }
    }
}

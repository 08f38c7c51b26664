//! Where a command's work happens: in the running daemon, through the
//! control socket; in this process, on the configured archive, when no
//! daemon listens; or read-only on someone's copy (`--archive DIR`), which
//! never uses the socket and never writes.

use std::future::Future;

use anyhow::Context as _;

use super::load::archive_options;
use crate::archive::reader::Reader;
use crate::config::Config;
use crate::control::{Client, ClientError};

/// The configuration and the way to the daemon for one command.
pub struct Target<'a> {
    /// The configuration (with `--archive` applied).
    pub config: &'a Config,
    /// `--archive DIR` was given: a copy, read-only, never the daemon.
    copy: bool,
    /// Carries the control connection (the CLI is otherwise blocking).
    runtime: tokio::runtime::Runtime,
}

impl<'a> Target<'a> {
    /// The target for `config`; `copy` when `--archive` named the archive.
    pub fn new(config: &'a Config, copy: bool) -> anyhow::Result<Target<'a>> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .context("starting the runtime")?;
        Ok(Target {
            config,
            copy,
            runtime,
        })
    }

    /// The daemon's client; `None` for a copy.
    pub fn client(&self) -> Option<Client> {
        (!self.copy).then(|| Client::new(&self.config.control, Some(&self.config.archive.path)))
    }

    /// Runs `future` on this target's runtime.
    pub fn block_on<F: Future>(&self, future: F) -> F::Output {
        self.runtime.block_on(future)
    }

    /// The runtime, for the blocking import sink.
    pub fn runtime(&self) -> &tokio::runtime::Runtime {
        &self.runtime
    }

    /// Asks the daemon: `Some` with its answer, `None` when no daemon
    /// listens (or for a copy), and the daemon's refusal as an error.
    pub fn ask<T, F, Fut>(&self, ask: F) -> anyhow::Result<Option<T>>
    where
        F: FnOnce(Client) -> Fut,
        Fut: Future<Output = Result<T, ClientError>>,
    {
        let Some(client) = self.client() else {
            return Ok(None);
        };
        match self.block_on(ask(client)) {
            Ok(answer) => Ok(Some(answer)),
            Err(ClientError::NoDaemon(_)) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// Read access in this process: the index (or a scan of the segments
    /// when something else holds it), or only a scan for a copy.
    pub fn reader(&self) -> anyhow::Result<Reader> {
        let path = &self.config.archive.path;
        let reader = if self.copy {
            // A copy's contents open with its master key when it is there
            // (`[archive] master_key_file`, by default inside the copy).
            let master = &self.config.archive.master_key_file;
            let keys = crate::keystore::KeyStore::exists(path) && master.is_file();
            Reader::open_read_only(path, keys.then_some(master.as_path()))
        } else {
            Reader::open(&archive_options(self.config))
        };
        reader.with_context(|| format!("opening archive {}", path.display()))
    }

    /// Refuses a command that writes when the archive is a copy.
    pub fn refuse_copy(&self, command: &str) -> anyhow::Result<()> {
        if self.copy {
            anyhow::bail!(
                "--archive opens {} read-only and `{command}` would write to it; name a \
                 writable archive in the configuration ([archive] path) instead",
                self.config.archive.path.display()
            );
        }
        Ok(())
    }
}

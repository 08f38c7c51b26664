//! Mailed seals (`[seal_mail]`): witnesses get the archive's seals by mail.
//!
//! A witness (the tax advisor, an auditor, an outside mailbox) who keeps
//! these mails can later prove the archive was not rewritten: the
//! attachment is exactly what `mailseal-verify consistency` takes as the
//! old seal. Mails go out once a day with the seals made since the last
//! mail (`mode = "daily"`), or one per seal (`"each"`), through lettre over
//! SMTP with STARTTLS or implicit TLS and optional AUTH. A failure is
//! logged, shown in `/healthz` and `/metrics` (witness `seal_mail`) and
//! retried with a doubling wait; ingest never waits. Which seals went out
//! is kept in `<archive>/seal-mail.json`, so a restart neither loses nor
//! repeats a mail.
//!
//! Seal mails are marked ([`crate::archive::mark`]) so that one coming back into the
//! archive through journaling is archived but calls for no new seal.

mod mail;

use std::path::{Path, PathBuf};
use std::time::Duration;

use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, CertificateStore, Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use tokio_util::sync::CancellationToken;

use crate::archive::Archive;
use crate::archive::seal::{self, Seal};
use crate::config::{SealMailConfig, SealMailMode, SealMailTls};
use crate::tls::UpstreamCa;

pub use mail::ATTACHMENT;

/// The witness name in `/healthz` and `/metrics`.
const WITNESS: &str = "seal_mail";
/// Longest wait between attempts.
const MAX_RETRY: Duration = Duration::from_secs(3600);

/// Why the mailer could not start.
#[derive(Debug, thiserror::Error)]
#[error("seal_mail: {0}")]
pub struct SetupError(String);

/// The mailer, ready to run.
pub struct Mailer {
    /// Addresses, mode, schedule and retry.
    config: SealMailConfig,
    /// The SMTP connection settings (TLS, AUTH), ready to send.
    transport: AsyncSmtpTransport<Tokio1Executor>,
    /// The seal key file (read per mail: a rotation changes it).
    key_file: PathBuf,
    /// `<archive>/seal-mail.json`.
    state: PathBuf,
}

impl Mailer {
    /// Builds the SMTP transport (TLS roots, credentials) from `config`.
    pub fn new(
        config: &SealMailConfig,
        archive_dir: &Path,
        key_file: &Path,
    ) -> Result<Mailer, SetupError> {
        let err = |e: &dyn std::fmt::Display| SetupError(e.to_string());
        let mut params = TlsParameters::builder(config.host.clone());
        if let UpstreamCa::File(f) = &config.ca {
            let pem = std::fs::read(f).map_err(|e| err(&e))?;
            params = params
                .certificate_store(CertificateStore::None)
                .add_root_certificate(Certificate::from_pem(&pem).map_err(|e| err(&e))?);
        }
        let params = params.build_rustls().map_err(|e| err(&e))?;
        let tls = match config.tls {
            SealMailTls::Starttls => Tls::Required(params),
            SealMailTls::Implicit => Tls::Wrapper(params),
            SealMailTls::None => Tls::None,
        };
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&config.host)
            .port(config.port)
            .tls(tls)
            .timeout(Some(Duration::from_secs(60)));
        if let Some(f) = &config.credentials_file {
            let text = std::fs::read_to_string(f).map_err(|e| err(&e))?;
            let (user, password) = text
                .lines()
                .next()
                .and_then(|l| l.split_once(':'))
                .ok_or_else(|| SetupError("credentials_file: expected user:password".into()))?;
            builder = builder.credentials(Credentials::new(user.into(), password.into()));
        }
        Ok(Mailer {
            config: config.clone(),
            transport: builder.build(),
            key_file: key_file.to_path_buf(),
            state: archive_dir.join("seal-mail.json"),
        })
    }

    /// The newest seal already mailed.
    fn mailed(&self) -> u64 {
        std::fs::read(&self.state)
            .ok()
            .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
            .and_then(|v| v.get("mailed_seq")?.as_u64())
            .unwrap_or(0)
    }

    fn set_mailed(&self, seq: u64) -> std::io::Result<()> {
        let tmp = self.state.with_extension("json.tmp");
        std::fs::write(&tmp, serde_json::json!({ "mailed_seq": seq }).to_string())?;
        std::fs::rename(&tmp, &self.state)
    }

    /// Sends `seals` in one mail.
    async fn send(&self, archive: &Archive, seals: &[Seal]) -> Result<(), String> {
        let key = seal::load_key(&self.key_file).map_err(|e| e.to_string())?;
        let reader = archive.reader();
        let seqs: Vec<u64> = seals.iter().map(|s| s.seq).collect();
        let stamps: Vec<_> = reader
            .timestamps()
            .unwrap_or_default()
            .into_iter()
            .filter(|t| seqs.contains(&t.seq))
            .collect();
        let c = &self.config;
        let message = mail::build(&key, &archive.archive_id(), &c.from, &c.to, seals, &stamps)
            .map_err(|e| e.to_string())?;
        self.transport
            .send(message)
            .await
            .map(drop)
            .map_err(|e| e.to_string())
    }
}

/// The version-2 seals after `mailed`, oldest first.
fn pending(archive: &Archive, mailed: u64) -> Vec<Seal> {
    let mut seals: Vec<Seal> = archive
        .reader()
        .seals()
        .unwrap_or_default()
        .into_iter()
        .filter(|s| s.seq > mailed && s.version.is_some())
        .collect();
    seals.sort_by_key(|s| s.seq);
    seals.dedup_by_key(|s| s.seq);
    seals
}

/// The next `hh:mm` UTC after `now`.
fn next_daily(
    now: chrono::DateTime<chrono::Utc>,
    (h, m): (u32, u32),
) -> chrono::DateTime<chrono::Utc> {
    let today = now
        .date_naive()
        .and_hms_opt(h, m, 0)
        .map(|t| t.and_utc())
        .unwrap_or(now);
    if today > now {
        today
    } else {
        today + chrono::Duration::days(1)
    }
}

/// Runs the mailer until `token` is cancelled.
pub async fn run(mailer: Mailer, archive: Archive, token: CancellationToken) {
    let mut seals = archive.seals_watch();
    let mut wait = mailer.config.retry;
    let mut retry_at: Option<tokio::time::Instant> = None;
    let daily = mailer.config.mode == SealMailMode::Daily;
    let mut daily_at = next_daily(chrono::Utc::now(), mailer.config.daily_at);
    loop {
        let mut todo = pending(&archive, mailer.mailed());
        crate::metrics::witness(WITNESS, None, todo.len() as u64, None);
        let now = chrono::Utc::now();
        let due = retry_at.is_none_or(|t| tokio::time::Instant::now() >= t)
            && (!daily || now >= daily_at);
        if due && !todo.is_empty() {
            let groups: Vec<Vec<Seal>> = if daily {
                vec![std::mem::take(&mut todo)]
            } else {
                todo.drain(..).map(|s| vec![s]).collect()
            };
            for group in groups {
                let last = group.last().map_or(0, |s| s.seq);
                match mailer.send(&archive, &group).await {
                    Ok(()) => {
                        if let Err(e) = mailer.set_mailed(last) {
                            tracing::error!(error = %e, "cannot record the mailed seal; it may be mailed again");
                        }
                        wait = mailer.config.retry;
                        retry_at = None;
                        let left = pending(&archive, last).len() as u64;
                        tracing::info!(
                            seq = last,
                            seals = group.len(),
                            "seals mailed to witnesses"
                        );
                        crate::metrics::witness(WITNESS, Some(true), left, None);
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, retry_in = ?wait, "seal mail failed");
                        let left = pending(&archive, mailer.mailed()).len() as u64;
                        crate::metrics::witness(WITNESS, Some(false), left, Some(&e));
                        retry_at = Some(tokio::time::Instant::now() + wait);
                        wait = (wait * 2).min(MAX_RETRY);
                        break;
                    }
                }
            }
        }
        if daily && now >= daily_at && retry_at.is_none() {
            daily_at = next_daily(now, mailer.config.daily_at);
        }
        let next = match (retry_at, daily) {
            (Some(t), _) => Some(t),
            (None, true) => {
                let secs = (daily_at - chrono::Utc::now()).num_seconds().max(1) as u64;
                Some(tokio::time::Instant::now() + Duration::from_secs(secs))
            }
            (None, false) => None,
        };
        let sleep = async {
            match next {
                Some(t) => tokio::time::sleep_until(t).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            () = token.cancelled() => return,
            changed = seals.changed() => if changed.is_err() { return },
            () = sleep => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_daily_mail_is_at_the_next_configured_minute() {
        let at = |s: &str| chrono::DateTime::parse_from_rfc3339(s).unwrap().to_utc();
        assert_eq!(
            next_daily(at("2026-05-01T10:00:00Z"), (23, 55)),
            at("2026-05-01T23:55:00Z")
        );
        assert_eq!(
            next_daily(at("2026-05-01T23:55:00Z"), (23, 55)),
            at("2026-05-02T23:55:00Z")
        );
        assert_eq!(
            next_daily(at("2026-12-31T23:59:00Z"), (0, 5)),
            at("2027-01-01T00:05:00Z")
        );
    }
}

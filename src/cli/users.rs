//! `mailseal user add|passwd|disable|enable|list`: the web interface's users.
//!
//! Every change is first appended to the archive as an `audit` record
//! naming the Unix user who made it, and only then written to the users
//! file: a change the trail does not show never takes effect. Passwords are
//! read from standard input (one line), never from the command line, where
//! other local users could see them.

use std::io::Read;
use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, Subcommand};

use crate::archive::Archive;
use crate::archive::audit::{AuditEvent, action};
use crate::config::Config;
use crate::control::{Client, ClientError};
use crate::web::role::Role;
use crate::web::users::{self, LoginMethod, User, Users};

use super::load::archive_options;

/// Where the users file is.
#[derive(Debug, Args)]
pub struct UserArgs {
    /// The users file (default: the one the daemon uses).
    #[arg(long, value_name = "FILE", global = true)]
    pub users_file: Option<PathBuf>,
    /// What to do.
    #[command(subcommand)]
    pub what: UserCommand,
}

/// The user commands.
#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Add a user; a local user's password is read from standard input.
    Add {
        /// Login name.
        name: String,
        /// auditor, user, admin or data-officer.
        #[arg(long)]
        role: String,
        /// How the password is checked: local (this file) or imap (the
        /// mailbox password, `[web] imap_login`).
        #[arg(long, default_value = "local")]
        login: String,
        /// One of the user's own mail addresses (role user; repeatable).
        #[arg(long = "address", value_name = "ADDR")]
        addresses: Vec<String>,
        /// An IMAP/POP3 login whose proxied mail is the user's (repeatable).
        #[arg(long = "mail-login", value_name = "LOGIN")]
        mail_logins: Vec<String>,
        /// Limit an auditor to mail touching this domain (repeatable).
        #[arg(long = "domain", value_name = "DOMAIN")]
        domains: Vec<String>,
        /// An auditor's sessions need a second person's confirmation.
        #[arg(long)]
        four_eyes: bool,
    },
    /// Set a user's password (read from standard input).
    Passwd {
        /// Login name.
        name: String,
    },
    /// Disable a user (the entry stays, for the audit trail's names).
    Disable {
        /// Login name.
        name: String,
    },
    /// Enable a disabled user again.
    Enable {
        /// Login name.
        name: String,
    },
    /// List the users.
    List {
        /// One JSON object per line.
        #[arg(long)]
        json: bool,
    },
}

/// The Unix user running this command, for the audit record.
pub fn unix_user() -> String {
    let uid = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Uid:"))
                .and_then(|l| l.split_whitespace().next().map(str::to_owned))
        })
        .unwrap_or_else(|| "?".into());
    let name = std::env::var("SUDO_USER")
        .or_else(|_| std::env::var("USER"))
        .unwrap_or_default();
    if name.is_empty() {
        format!("uid {uid}")
    } else {
        format!("{name} (uid {uid})")
    }
}

pub fn read_password() -> anyhow::Result<String> {
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .take(4096)
        .read_to_string(&mut line)?;
    let password = line.lines().next().unwrap_or_default().to_owned();
    if password.is_empty() {
        anyhow::bail!("no password on standard input");
    }
    Ok(password)
}

/// Appends the audit record of a user change to the archive: through the
/// running daemon, which names the caller from the socket's credentials,
/// or in this process when no daemon runs.
fn record_change(config: &Config, detail: String) -> anyhow::Result<()> {
    let client = Client::new(&config.control, Some(&config.archive.path));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    match runtime.block_on(client.note_user_change(detail.clone())) {
        Ok(()) => return Ok(()),
        Err(ClientError::NoDaemon(_)) => {}
        Err(e) => return Err(anyhow::Error::from(e).context("recording the change")),
    }
    let archive = Archive::open(&archive_options(config)).with_context(|| {
        format!(
            "recording the change in the archive {}",
            config.archive.path.display()
        )
    })?;
    let event = AuditEvent {
        action: action::USER_CHANGE.into(),
        outcome: "ok".into(),
        via: "cli".into(),
        actor: unix_user(),
        detail: Some(detail),
        ..AuditEvent::default()
    };
    let appended = runtime.block_on(archive.append_audit(event));
    archive.close()?;
    appended.context("appending the audit record")?;
    Ok(())
}

/// Runs a user command.
pub fn run(config: &Config, args: UserArgs) -> anyhow::Result<u8> {
    let path = args
        .users_file
        .unwrap_or_else(|| config.web.users_file.clone());
    let mut all = Users::load(&path)?;
    let detail = match args.what {
        UserCommand::List { json } => {
            for u in &all.users {
                if json {
                    let mut shown = u.clone();
                    shown.password = None;
                    println!("{}", serde_json::to_string(&shown)?);
                } else {
                    println!(
                        "{}\t{}\t{}\t{}\t{}",
                        u.name,
                        u.role.as_str(),
                        u.login.as_str(),
                        if u.disabled { "disabled" } else { "enabled" },
                        u.addresses
                            .iter()
                            .chain(u.domains.iter())
                            .cloned()
                            .collect::<Vec<_>>()
                            .join(",")
                    );
                }
            }
            return Ok(0);
        }
        UserCommand::Add {
            name,
            role,
            login,
            addresses,
            mail_logins,
            domains,
            four_eyes,
        } => {
            let role = Role::parse(&role).with_context(|| {
                format!("unknown role {role:?}; use auditor, user, admin or data-officer")
            })?;
            let login = match login.as_str() {
                "local" => LoginMethod::Local,
                "imap" => LoginMethod::Imap,
                "ldap" => anyhow::bail!(
                    "LDAP login is not built; use local, or imap with [web] imap_login (docs/decisions.md)"
                ),
                other => anyhow::bail!("unknown login method {other:?}; use local or imap"),
            };
            let mut user = User::new(&name, role, login);
            user.addresses = addresses
                .iter()
                .map(|a| users::check_address(a, false))
                .collect::<Result<_, _>>()?;
            user.domains = domains
                .iter()
                .map(|d| users::check_address(d, true))
                .collect::<Result<_, _>>()?;
            user.mail_logins = mail_logins;
            user.four_eyes = four_eyes;
            let detail = format!(
                "added {name} as {} ({} login){}{}",
                role.as_str(),
                login.as_str(),
                if user.addresses.is_empty() {
                    String::new()
                } else {
                    format!(", addresses {}", user.addresses.join(","))
                },
                if user.domains.is_empty() {
                    String::new()
                } else {
                    format!(", domains {}", user.domains.join(","))
                }
            );
            all.add(user)?;
            if login == LoginMethod::Local {
                all.set_password(&name, &read_password()?)?;
            }
            detail
        }
        UserCommand::Passwd { name } => {
            all.set_password(&name, &read_password()?)?;
            format!("password of {name} set")
        }
        UserCommand::Disable { name } => {
            all.set_disabled(&name, true)?;
            format!("disabled {name}")
        }
        UserCommand::Enable { name } => {
            all.set_disabled(&name, false)?;
            format!("enabled {name}")
        }
    };
    record_change(config, detail.clone())?;
    all.save(&path)?;
    println!("{detail}");
    Ok(0)
}

//! Which folders an import walks.
//!
//! The server's LIST answer becomes [`Folder`]s (wire name, decoded name,
//! delimiter, special-use flags); a [`Selection`] built from the job decides
//! for each one: include and exclude patterns apply to the decoded name, with
//! `*` matching anything and `%` anything but the hierarchy delimiter, as in
//! IMAP LIST; folders carrying a special-use flag of the skip list
//! (`\Junk`, `\Trash`, `\Drafts` by default) are left out. No I/O here.

use async_imap::types::{Name, NameAttribute};

use super::utf7;
use crate::config::ImapImportConfig;
use crate::imap::special_use;

/// One mailbox the server listed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Folder {
    /// The name as the server spells it (modified UTF-7): EXAMINE needs it
    /// verbatim.
    pub wire: String,
    /// The decoded name, for patterns, records and logs (the wire name when
    /// it does not decode, so nothing is lost).
    pub name: String,
    /// Hierarchy delimiter, for `%` in patterns.
    pub delimiter: Option<char>,
    /// Special-use flags, such as `\Drafts` (see [`special_use`]).
    pub special_use: Vec<String>,
    /// False for `\Noselect` and `\NonExistent` (hierarchy placeholders).
    pub selectable: bool,
}

impl Folder {
    /// A folder from its wire name and LIST attributes (as text).
    pub fn new(wire: &str, delimiter: Option<&str>, attributes: &[String]) -> Folder {
        let name = match utf7::decode(wire) {
            Ok(name) => name,
            Err(error) => {
                tracing::warn!(folder = wire, %error, "folder name is not modified UTF-7; using it as is");
                wire.to_owned()
            }
        };
        let mut folder = Folder {
            wire: wire.to_owned(),
            name,
            delimiter: delimiter.and_then(|d| d.chars().next()),
            special_use: Vec::new(),
            selectable: true,
        };
        folder.add_attributes(attributes);
        folder
    }

    /// A folder from an async-imap LIST answer.
    pub fn from_name(name: &Name) -> Folder {
        Folder::new(name.name(), name.delimiter(), &attribute_texts(name))
    }

    /// Adds attributes from another LIST answer for the same mailbox
    /// (`LIST ... RETURN (SPECIAL-USE)`).
    pub fn add_attributes(&mut self, attributes: &[String]) {
        for a in attributes {
            if a.eq_ignore_ascii_case("\\Noselect") || a.eq_ignore_ascii_case("\\NonExistent") {
                self.selectable = false;
            }
            if let Some(s) = special_use::of(a)
                && !self.special_use.iter().any(|have| have == s)
            {
                self.special_use.push(s.to_owned());
            }
        }
    }
}

/// LIST attributes as their protocol text (`\Drafts`, `\HasNoChildren`).
pub fn attribute_texts(name: &Name) -> Vec<String> {
    name.attributes()
        .iter()
        .map(|a| match a {
            NameAttribute::NoInferiors => "\\Noinferiors".to_owned(),
            NameAttribute::NoSelect => "\\Noselect".to_owned(),
            NameAttribute::Marked => "\\Marked".to_owned(),
            NameAttribute::Unmarked => "\\Unmarked".to_owned(),
            NameAttribute::All => "\\All".to_owned(),
            NameAttribute::Archive => "\\Archive".to_owned(),
            NameAttribute::Drafts => "\\Drafts".to_owned(),
            NameAttribute::Flagged => "\\Flagged".to_owned(),
            NameAttribute::Junk => "\\Junk".to_owned(),
            NameAttribute::Sent => "\\Sent".to_owned(),
            NameAttribute::Trash => "\\Trash".to_owned(),
            NameAttribute::Extension(other) => other.to_string(),
            _ => String::new(),
        })
        .collect()
}

/// What the selection says about a folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Walk it.
    Import,
    /// A hierarchy placeholder that holds no messages.
    NotSelectable,
    /// No include pattern matches.
    NotIncluded,
    /// This exclude pattern matches.
    Excluded(String),
    /// It carries this special-use flag of the skip list.
    SpecialUse(String),
}

/// The job's folder rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selection {
    /// Patterns a folder must match one of.
    pub include: Vec<String>,
    /// Patterns that leave a folder out, applied after `include`.
    pub exclude: Vec<String>,
    /// Special-use flags that leave a folder out.
    pub skip_special_use: Vec<String>,
}

impl Selection {
    /// The rules of a job.
    pub fn of(job: &ImapImportConfig) -> Selection {
        Selection {
            include: job.folders_include.clone(),
            exclude: job.folders_exclude.clone(),
            skip_special_use: job.skip_special_use.clone(),
        }
    }

    /// Decides about one folder.
    pub fn verdict(&self, folder: &Folder) -> Verdict {
        if !folder.selectable {
            return Verdict::NotSelectable;
        }
        let hit = |p: &String| matches(p, &folder.name, folder.delimiter);
        if !self.include.iter().any(hit) {
            return Verdict::NotIncluded;
        }
        if let Some(p) = self.exclude.iter().find(|p| hit(p)) {
            return Verdict::Excluded(p.clone());
        }
        let skipped = folder.special_use.iter().find(|s| {
            self.skip_special_use
                .iter()
                .any(|k| k.eq_ignore_ascii_case(s))
        });
        match skipped {
            Some(s) => Verdict::SpecialUse(s.clone()),
            None => Verdict::Import,
        }
    }
}

/// IMAP LIST matching of a decoded name: `*` matches any characters, `%`
/// any but the delimiter; `INBOX` (and its children) match case-insensitively
/// because RFC 3501 makes that one name case-insensitive.
pub fn matches(pattern: &str, name: &str, delimiter: Option<char>) -> bool {
    let pattern: Vec<char> = inbox_upper(pattern, delimiter).chars().collect();
    let name: Vec<char> = inbox_upper(name, delimiter).chars().collect();
    wildcard(&pattern, &name, delimiter)
}

fn inbox_upper(text: &str, delimiter: Option<char>) -> String {
    let head = text.get(..5).filter(|h| h.eq_ignore_ascii_case("INBOX"));
    let rest = &text[head.map_or(0, str::len)..];
    let at_boundary = rest.is_empty() || delimiter.is_some_and(|d| rest.starts_with(d));
    match head {
        Some(_) if at_boundary => format!("INBOX{rest}"),
        _ => text.to_owned(),
    }
}

/// Recursive wildcard match; folder names and patterns are short, so the
/// backtracking stays cheap.
fn wildcard(p: &[char], n: &[char], delimiter: Option<char>) -> bool {
    match p.split_first() {
        None => n.is_empty(),
        Some(('*', rest)) => (0..=n.len()).any(|i| wildcard(rest, &n[i..], delimiter)),
        Some(('%', rest)) => {
            let level = n
                .iter()
                .position(|c| Some(*c) == delimiter)
                .unwrap_or(n.len());
            (0..=level).any(|i| wildcard(rest, &n[i..], delimiter))
        }
        Some((c, rest)) => n.first() == Some(c) && wildcard(rest, &n[1..], delimiter),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn folder(wire: &str, attrs: &[&str]) -> Folder {
        let attrs: Vec<String> = attrs.iter().map(|a| a.to_string()).collect();
        Folder::new(wire, Some("/"), &attrs)
    }

    fn default_selection() -> Selection {
        Selection {
            include: vec!["*".into()],
            exclude: vec![],
            skip_special_use: vec!["\\Junk".into(), "\\Trash".into(), "\\Drafts".into()],
        }
    }

    #[test]
    fn patterns_follow_list_semantics() {
        let d = Some('/');
        let cases = [
            ("*", "INBOX", true),
            ("*", "Projects/2024/Q1", true),
            ("%", "Projects", true),
            ("%", "Projects/2024", false),
            ("Projects/%", "Projects/2024", true),
            ("Projects/%", "Projects/2024/Q1", false),
            ("Projects/*", "Projects/2024/Q1", true),
            ("Projects/*", "Projects", false),
            ("inbox", "INBOX", true),
            ("Inbox/*", "INBOX/Sub", true),
            ("inboxes", "INBOXES", false),
            ("Geschäft*", "Geschäftlich", true),
            ("*ä*", "Geschäft", true),
            ("Sent", "sent", false),
            ("A*B*C", "AxxBxxC", true),
            ("A*B*C", "AxxBxxD", false),
            ("", "", true),
        ];
        for (pattern, name, expected) in cases {
            assert_eq!(matches(pattern, name, d), expected, "{pattern} vs {name}");
        }
        assert!(matches("%", "a.b", None), "no delimiter: one level");
    }

    #[test]
    fn decodes_names_and_reads_attributes() {
        let f = folder("Gesch&AOQ-ft", &["\\HasNoChildren"]);
        assert_eq!(f.name, "Geschäft");
        assert_eq!(f.wire, "Gesch&AOQ-ft");
        assert!(f.selectable);
        let f = folder("Drafts", &["\\HasNoChildren", "\\drafts"]);
        assert_eq!(f.special_use, ["\\Drafts"]);
        assert!(!folder("Projects", &["\\Noselect", "\\HasChildren"]).selectable);
        assert!(!folder("Projects", &["\\NonExistent"]).selectable);
        assert_eq!(folder("Spam", &["\\Spam"]).special_use, ["\\Junk"]);
        let important = folder("Important", &["\\Important"]);
        assert_eq!(important.special_use, ["\\Important"]);
        assert_eq!(
            folder("bad&", &[]).name,
            "bad&",
            "undecodable stays as sent"
        );
    }

    #[test]
    fn selection_skips_special_use_and_honours_patterns() {
        let s = default_selection();
        assert_eq!(s.verdict(&folder("INBOX", &[])), Verdict::Import);
        assert_eq!(
            s.verdict(&folder("Drafts", &["\\Drafts"])),
            Verdict::SpecialUse("\\Drafts".into())
        );
        assert_eq!(s.verdict(&folder("Sent", &["\\Sent"])), Verdict::Import);
        let s = Selection {
            skip_special_use: vec!["\\important".into()],
            ..default_selection()
        };
        assert_eq!(
            s.verdict(&folder("Important", &["\\Important"])),
            Verdict::SpecialUse("\\Important".into())
        );
        let s = default_selection();
        assert_eq!(
            s.verdict(&folder("Projects", &["\\Noselect"])),
            Verdict::NotSelectable
        );

        let s = Selection {
            include: vec!["INBOX".into(), "Projects/*".into()],
            exclude: vec!["Projects/Old*".into()],
            skip_special_use: vec![],
        };
        assert_eq!(s.verdict(&folder("inbox", &[])), Verdict::Import);
        assert_eq!(s.verdict(&folder("Projects/2024", &[])), Verdict::Import);
        assert_eq!(s.verdict(&folder("Sent", &[])), Verdict::NotIncluded);
        assert_eq!(
            s.verdict(&folder("Projects/Old 2019", &[])),
            Verdict::Excluded("Projects/Old*".into())
        );
        assert_eq!(
            s.verdict(&folder("Drafts", &["\\Drafts"])),
            Verdict::NotIncluded
        );
    }
}

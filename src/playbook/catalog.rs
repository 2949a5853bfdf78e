//! Where playbooks come from: the shipped `playbooks/` (built into the binary, so an
//! installed tool has them), `$XDG_CONFIG_HOME/nexus-replay/playbooks`, and paths.
//! A user playbook with a shipped playbook's name replaces it.

use std::path::{Path, PathBuf};

use serde::Serialize;

use super::load::{Diagnostic, Playbook, load};
use crate::error::AppError;

/// The shipped playbooks: (file name, text).
pub const BUILTIN: &[(&str, &str)] = &[
    (
        "subscription-outage.toml",
        include_str!("../../playbooks/subscription-outage.toml"),
    ),
    (
        "payment-outage.toml",
        include_str!("../../playbooks/payment-outage.toml"),
    ),
    (
        "customer-sync-outage.toml",
        include_str!("../../playbooks/customer-sync-outage.toml"),
    ),
    (
        "nightly-dlq-drain.toml",
        include_str!("../../playbooks/nightly-dlq-drain.toml"),
    ),
    (
        "partner-events-cutover.toml",
        include_str!("../../playbooks/partner-events-cutover.toml"),
    ),
    (
        "stripe-webhook-outage.toml",
        include_str!("../../playbooks/stripe-webhook-outage.toml"),
    ),
];

/// A playbook found somewhere, read but not yet checked.
#[derive(Debug, Clone, Serialize)]
pub struct Found {
    pub name: String,
    /// `playbooks/x.toml` (built in) or the path.
    pub file: String,
    pub builtin: bool,
    #[serde(skip)]
    pub text: String,
}

/// The user's playbook folder.
pub fn user_dir() -> Option<PathBuf> {
    crate::settings::user_config_dir().map(|d| d.join("playbooks"))
}

fn stem(file: &str) -> String {
    Path::new(file)
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// Every playbook: built-ins, then the user folder's (replacing built-ins of the same name).
pub fn all(user: Option<&Path>) -> Result<Vec<Found>, AppError> {
    let mut out: Vec<Found> = BUILTIN
        .iter()
        .map(|(file, text)| Found {
            name: stem(file),
            file: format!("playbooks/{file}"),
            builtin: true,
            text: text.to_string(),
        })
        .collect();
    if let Some(dir) = user
        && dir.is_dir()
    {
        let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
            .map_err(|e| AppError::Io(format!("cannot list {}: {e}", dir.display())))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "toml"))
            .collect();
        paths.sort();
        for p in paths {
            let text = std::fs::read_to_string(&p)
                .map_err(|e| AppError::Io(format!("cannot read {}: {e}", p.display())))?;
            let file = p.display().to_string();
            let found = Found {
                name: stem(&file),
                file,
                builtin: false,
                text,
            };
            out.retain(|f| f.name != found.name);
            out.push(found);
        }
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

/// Finds a playbook by name, or reads it from a path (anything with `/` or ending in `.toml`).
pub fn find(name_or_path: &str, user: Option<&Path>) -> Result<Found, AppError> {
    if name_or_path.contains('/') || name_or_path.ends_with(".toml") {
        let p = Path::new(name_or_path);
        let text = std::fs::read_to_string(p).map_err(|e| {
            AppError::NotFound(format!("cannot read playbook file {}: {e}", p.display()))
        })?;
        return Ok(Found {
            name: stem(name_or_path),
            file: name_or_path.to_string(),
            builtin: false,
            text,
        });
    }
    let all = all(user)?;
    let names: Vec<&str> = all.iter().map(|f| f.name.as_str()).collect();
    all.iter()
        .find(|f| f.name == name_or_path)
        .cloned()
        .ok_or_else(|| {
            AppError::NotFound(format!(
                "no playbook named {name_or_path:?}; known: {} (see `nexus-replay playbook list`), or give a path to a .toml file",
                names.join(", ")
            ))
        })
}

/// Reads and checks a found playbook; problems become one usage error listing them all.
pub fn open(found: &Found) -> Result<Playbook, AppError> {
    load(&found.file, &found.text).map_err(|d| AppError::Usage(describe(&found.file, &d)))
}

/// `FILE has N problems:` and each one.
pub fn describe(file: &str, diags: &[Diagnostic]) -> String {
    let mut s = format!(
        "{file}: {} problem{} (nothing was run):",
        diags.len(),
        if diags.len() == 1 { "" } else { "s" }
    );
    for d in diags {
        s.push('\n');
        s.push_str(&d.to_string());
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_shipped_playbook_loads_and_matches_its_file_name() {
        for (file, text) in BUILTIN {
            let p = load(file, text).unwrap_or_else(|d| panic!("{}", describe(file, &d)));
            assert_eq!(format!("{}.toml", p.name), *file);
        }
    }

    #[test]
    fn a_user_playbook_replaces_the_shipped_one_of_its_name() {
        let dir = std::env::temp_dir().join(format!("nr-pb-{}", crate::ids::random_hex(6)));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("nightly-dlq-drain.toml"), "name = \"x\"").unwrap();
        std::fs::write(dir.join("notes.txt"), "ignored").unwrap();
        let all = all(Some(&dir)).unwrap();
        let n: Vec<_> = all
            .iter()
            .filter(|f| f.name == "nightly-dlq-drain")
            .collect();
        assert_eq!(n.len(), 1);
        assert!(!n[0].builtin);
        assert_eq!(all.len(), BUILTIN.len());
        assert!(
            find("nope", Some(&dir))
                .unwrap_err()
                .to_string()
                .contains("subscription-outage")
        );
        std::fs::remove_dir_all(dir).unwrap();
    }
}

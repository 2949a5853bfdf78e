//! Resolved global settings: flags win over `NEXUS_REPLAY_*` env (both handled by the CLI
//! layer), which win over the optional config file `nexus-replay.toml`.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::aws::config::AwsOptions;
use crate::error::AppError;
use crate::logging::LogFormat;
use crate::output::OutputMode;

/// The config file's name, looked for in the current directory, then in
/// `$XDG_CONFIG_HOME/nexus-replay/` (default `~/.config/nexus-replay/`).
pub const CONFIG_FILE: &str = "nexus-replay.toml";

/// Keys accepted in `nexus-replay.toml`; any other key is an error that names it.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    pub region: Option<String>,
    pub profile: Option<String>,
    pub endpoint_url: Option<String>,
    pub bus: Option<String>,
    pub archive: Option<String>,
    pub output: Option<String>,
    pub state_dir: Option<PathBuf>,
}

/// Everything the engine needs to know about how it was invoked.
#[derive(Debug, Clone)]
pub struct Settings {
    pub aws: AwsOptions,
    pub output: OutputMode,
    pub verbosity: i8,
    pub log_format: LogFormat,
    /// Progress bars or periodic progress lines are wanted.
    pub progress: bool,
    /// Confirmations are pre-approved.
    pub yes: bool,
    pub default_bus: Option<String>,
    pub default_archive: Option<String>,
    /// Where the replay journal and other local state live.
    pub state_dir: PathBuf,
    /// The config file that was read, if any.
    pub config_path: Option<PathBuf>,
}

impl Settings {
    /// The bus from the command line, or the configured default.
    pub fn bus(&self, flag: Option<&str>) -> Result<String, AppError> {
        flag.map(str::to_string)
            .or_else(|| self.default_bus.clone())
            .ok_or_else(|| {
                AppError::usage(
                    "no event bus given: pass --bus NAME, set NEXUS_REPLAY_BUS, or put bus = \"...\" in nexus-replay.toml",
                )
            })
    }
}

impl FileConfig {
    /// Each key the file sets, with its value as written.
    pub fn entries(&self) -> Vec<(&'static str, String)> {
        let text = |k, v: &Option<String>| v.as_ref().map(|v| (k, v.clone()));
        [
            text("region", &self.region),
            text("profile", &self.profile),
            text("endpoint_url", &self.endpoint_url),
            text("bus", &self.bus),
            text("archive", &self.archive),
            text("output", &self.output),
            self.state_dir
                .as_ref()
                .map(|d| ("state_dir", d.display().to_string())),
        ]
        .into_iter()
        .flatten()
        .collect()
    }
}

/// Finds and reads the config file. An explicit path must exist. Every failure is a config
/// error (exit 2): nothing was done yet.
pub fn load_file(explicit: Option<&Path>) -> Result<(Option<PathBuf>, FileConfig), AppError> {
    let path = match explicit {
        Some(p) => {
            if !p.is_file() {
                return Err(AppError::ConfigFile(format!(
                    "config file {} does not exist; fix --config or NEXUS_REPLAY_CONFIG",
                    p.display()
                )));
            }
            Some(p.to_path_buf())
        }
        None => candidates().into_iter().find(|p| p.is_file()),
    };
    let Some(path) = path else {
        return Ok((None, FileConfig::default()));
    };
    let bytes = std::fs::read(&path).map_err(|e| {
        AppError::ConfigFile(format!(
            "cannot read config file {}: {e}; fix its permissions, or name another with --config",
            path.display()
        ))
    })?;
    let text = String::from_utf8(bytes).map_err(|e| {
        AppError::ConfigFile(format!(
            "config file {}:{} is not UTF-8 text; save it as UTF-8",
            path.display(),
            line_of(e.as_bytes(), e.utf8_error().valid_up_to())
        ))
    })?;
    let config: FileConfig = toml::from_str(&text).map_err(|e| {
        AppError::ConfigFile(format!(
            "invalid config file {}: {}; accepted keys: region, profile, endpoint_url, bus, archive, output, state_dir",
            path.display(),
            e.to_string().trim()
        ))
    })?;
    if let Some(o) = &config.output {
        parse_output(o).map_err(|m| AppError::ConfigFile(format!("{}: {m}", path.display())))?;
    }
    Ok((Some(path), config))
}

/// The 1-based line of byte `offset`.
fn line_of(bytes: &[u8], offset: usize) -> usize {
    bytes[..offset].iter().filter(|b| **b == b'\n').count() + 1
}

/// Refuses to take `endpoint_url` from a config file that someone else could have written:
/// every AWS call, with the caller's credentials, would go to the host it names. A file in
/// the current directory is picked up without being asked for, so it must be the user's
/// own and writable by nobody else.
#[cfg(unix)]
pub fn check_endpoint_source(path: &Path) -> Result<(), AppError> {
    // SAFETY: geteuid has no preconditions and cannot fail.
    endpoint_source_for(path, unsafe { libc::geteuid() })
}

/// `check_endpoint_source` for a process running as `me`.
#[cfg(unix)]
fn endpoint_source_for(path: &Path, me: u32) -> Result<(), AppError> {
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::metadata(path).map_err(|e| {
        AppError::ConfigFile(format!("cannot read config file {}: {e}", path.display()))
    })?;
    match untrusted_because(meta.uid(), meta.mode(), me) {
        None => Ok(()),
        Some(why) => {
            let p = path.display();
            let fix = if meta.uid() != me {
                format!("make it yours (`sudo chown {me} {p}`) or remove it")
            } else {
                format!("`chmod go-w {p}`")
            };
            Err(AppError::ConfigFile(format!(
                "refusing endpoint_url from config file {p}: {why}, so someone else could send every AWS call (signed with your credentials) to another host; {fix}, or choose the endpoint yourself with --endpoint-url or NEXUS_REPLAY_ENDPOINT_URL"
            )))
        }
    }
}

#[cfg(not(unix))]
pub fn check_endpoint_source(_path: &Path) -> Result<(), AppError> {
    Ok(())
}

/// Why a file owned by `owner` with permission bits `mode` may not choose the endpoint of a
/// process running as `euid`; None when it may.
fn untrusted_because(owner: u32, mode: u32, euid: u32) -> Option<String> {
    if owner != euid {
        Some(format!(
            "it is owned by uid {owner}, not by you (uid {euid})"
        ))
    } else if mode & 0o022 != 0 {
        Some(format!(
            "it is writable by {} (mode {:o})",
            match (mode & 0o020 != 0, mode & 0o002 != 0) {
                (true, true) => "its group and others",
                (true, false) => "its group",
                _ => "others",
            },
            mode & 0o7777
        ))
    } else {
        None
    }
}

fn candidates() -> Vec<PathBuf> {
    let mut out = vec![PathBuf::from(CONFIG_FILE)];
    if let Some(dir) = config_home() {
        out.push(dir.join("nexus-replay").join(CONFIG_FILE));
    }
    out
}

fn config_home() -> Option<PathBuf> {
    std::env::var_os("XDG_CONFIG_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| home().map(|h| h.join(".config")))
}

fn home() -> Option<PathBuf> {
    std::env::var_os("HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
}

/// `$NEXUS_REPLAY_STATE_DIR`, else `$XDG_STATE_HOME/nexus-replay`, else
/// `~/.local/state/nexus-replay`, else `./.nexus-replay`.
pub fn default_state_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("NEXUS_REPLAY_STATE_DIR").filter(|v| !v.is_empty()) {
        return PathBuf::from(d);
    }
    std::env::var_os("XDG_STATE_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| home().map(|h| h.join(".local").join("state")))
        .map(|d| d.join("nexus-replay"))
        .unwrap_or_else(|| PathBuf::from(".nexus-replay"))
}

/// The directory holding user playbooks and the config file.
pub fn user_config_dir() -> Option<PathBuf> {
    config_home().map(|d| d.join("nexus-replay"))
}

pub fn parse_output(s: &str) -> Result<OutputMode, String> {
    match s {
        "human" => Ok(OutputMode::Human),
        "json" => Ok(OutputMode::Json),
        other => Err(format!("output must be human or json, not {other:?}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_config_keys_are_named() {
        let dir = std::env::temp_dir().join(format!("nr-cfg-{}", crate::ids::random_hex(8)));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("c.toml");
        std::fs::write(&p, "bus = \"b\"\nregoin = \"us-east-2\"\n").unwrap();
        let err = load_file(Some(&p)).unwrap_err().to_string();
        assert!(err.contains("regoin"), "{err}");
        std::fs::write(&p, "bus = \"b\"\noutput = \"yaml\"\n").unwrap();
        let err = load_file(Some(&p)).unwrap_err().to_string();
        assert!(err.contains("human or json"), "{err}");
        std::fs::write(&p, "bus = \"b\"\nregion = \"eu-west-1\"\n").unwrap();
        let (_, cfg) = load_file(Some(&p)).unwrap();
        assert_eq!(cfg.bus.as_deref(), Some("b"));
        assert_eq!(cfg.region.as_deref(), Some("eu-west-1"));
        std::fs::remove_dir_all(dir).unwrap();
    }

    /// A scratch directory with one config file, removed on drop.
    struct Scratch(PathBuf);

    impl Scratch {
        fn with(content: &[u8]) -> (Scratch, PathBuf) {
            let dir = std::env::temp_dir().join(format!("nr-cfg-{}", crate::ids::random_hex(8)));
            std::fs::create_dir_all(&dir).unwrap();
            let p = dir.join(CONFIG_FILE);
            std::fs::write(&p, content).unwrap();
            (Scratch(dir), p)
        }
    }

    impl Drop for Scratch {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    #[test]
    fn a_config_file_that_is_not_utf8_is_a_config_error() {
        let (_dir, p) = Scratch::with(b"bus = \"b\"\nregion = \"\xff\xfe\"\n");
        let err = load_file(Some(&p)).unwrap_err();
        assert_eq!(err.exit_code(), crate::exit_codes::USAGE);
        assert_eq!(err.kind(), "config");
        assert!(
            err.to_string()
                .ends_with("nexus-replay.toml:2 is not UTF-8 text; save it as UTF-8"),
            "{err}"
        );
    }

    #[test]
    fn entries_list_what_the_file_sets() {
        let (_dir, p) = Scratch::with(b"endpoint_url = \"http://127.0.0.1:1\"\nbus = \"b\"\n");
        let (_, cfg) = load_file(Some(&p)).unwrap();
        assert_eq!(
            cfg.entries(),
            vec![
                ("endpoint_url", "http://127.0.0.1:1".to_string()),
                ("bus", "b".to_string())
            ]
        );
    }

    #[cfg(unix)]
    #[test]
    fn endpoint_url_is_taken_only_from_a_file_of_the_user_that_nobody_else_can_write() {
        use std::os::unix::fs::{MetadataExt, PermissionsExt};
        let (_dir, p) = Scratch::with(b"endpoint_url = \"http://127.0.0.1:1\"\n");
        let me = std::fs::metadata(&p).unwrap().uid();
        let chmod = |mode| std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode));
        for mode in [0o600, 0o644, 0o400] {
            chmod(mode).unwrap();
            endpoint_source_for(&p, me).unwrap();
        }
        for (mode, who) in [
            (0o664, "writable by its group (mode 664)"),
            (0o646, "writable by others (mode 646)"),
            (0o666, "writable by its group and others (mode 666)"),
        ] {
            chmod(mode).unwrap();
            let err = endpoint_source_for(&p, me).unwrap_err();
            assert_eq!(err.exit_code(), crate::exit_codes::USAGE);
            let text = err.to_string();
            assert!(text.contains(who), "{text}");
            assert!(
                text.contains(&format!("`chmod go-w {}`", p.display())),
                "{text}"
            );
            assert!(text.contains("--endpoint-url"), "{text}");
        }
        // Another user's file, even one only they can write.
        chmod(0o600).unwrap();
        let err = endpoint_source_for(&p, me + 1).unwrap_err().to_string();
        assert!(
            err.contains(&format!("owned by uid {me}, not by you (uid {})", me + 1)),
            "{err}"
        );
        assert!(err.contains("sudo chown"), "{err}");
    }

    #[test]
    fn an_explicit_missing_config_is_an_error() {
        let err = load_file(Some(Path::new("/nonexistent/nexus.toml"))).unwrap_err();
        assert_eq!(err.exit_code(), crate::exit_codes::USAGE);
    }
}

//! The TOML config file and where opsdeck keeps its files.

use crate::diag::FileError;
use directories::ProjectDirs;
use serde::Deserialize;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default)]
    pub ui: UiConfig,
    #[serde(default)]
    pub drill: DrillConfig,
    #[serde(default)]
    pub kube: Option<crate::sources::kube::KubeConfig>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UiConfig {
    pub theme: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DrillConfig {
    pub seed: Option<u64>,
    /// Simulated seconds per real second.
    pub speed: Option<u32>,
}

/// Where opsdeck reads and writes. The config directory holds `config.toml`, `keymap.toml`
/// and `themes/`; the data directory holds the log (and, later, incident journals).
#[derive(Debug, Clone, PartialEq)]
pub struct Paths {
    pub config_file: PathBuf,
    pub config_dir: PathBuf,
    pub data_dir: PathBuf,
}

impl Paths {
    pub fn discover(config_override: Option<&Path>) -> anyhow::Result<Paths> {
        let dirs = ProjectDirs::from("", "", "opsdeck").ok_or_else(|| {
            anyhow::anyhow!("cannot find a home directory for opsdeck's config and data")
        })?;
        let config_dir = dirs.config_dir().to_path_buf();
        Ok(Paths {
            config_file: config_override
                .map_or_else(|| config_dir.join("config.toml"), Path::to_path_buf),
            config_dir,
            data_dir: dirs.data_dir().to_path_buf(),
        })
    }

    pub fn keymap_file(&self) -> PathBuf {
        self.config_dir.join("keymap.toml")
    }

    pub fn themes_dir(&self) -> PathBuf {
        self.config_dir.join("themes")
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("invalid config {0}")]
    Invalid(FileError),
    #[error("cannot read config {}: {source}", path.display())]
    Unreadable {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// A missing file is not an error: it means the built-in drill world.
pub fn load(path: &Path, explicit: bool) -> Result<Option<Config>, ConfigError> {
    match std::fs::read_to_string(path) {
        Ok(text) => toml::from_str(&text)
            .map(Some)
            .map_err(|e| ConfigError::Invalid(FileError::from_toml(path, &text, &e))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && !explicit => Ok(None),
        Err(source) => Err(ConfigError::Unreadable {
            path: path.to_path_buf(),
            source,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load_text(text: &str) -> Result<Option<Config>, ConfigError> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.toml");
        std::fs::write(&path, text).unwrap();
        load(&path, false)
    }

    #[test]
    fn missing_file_means_drill() {
        let dir = tempfile::tempdir().unwrap();
        assert!(
            load(&dir.path().join("config.toml"), false)
                .unwrap()
                .is_none()
        );
        assert!(load(&dir.path().join("config.toml"), true).is_err());
    }

    #[test]
    fn reads_every_field() {
        let cfg = load_text("[ui]\ntheme = \"light\"\n[drill]\nseed = 7\nspeed = 10\n")
            .unwrap()
            .unwrap();
        assert_eq!(cfg.ui.theme.as_deref(), Some("light"));
        assert_eq!((cfg.drill.seed, cfg.drill.speed), (Some(7), Some(10)));
    }

    #[test]
    fn unknown_key_names_file_line_and_key() {
        let err = load_text("[ui]\ntheme = \"light\"\ncolour = \"red\"\n")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("config.toml:3:1: unknown field `colour`"),
            "{err}"
        );
        assert!(err.ends_with("3 | colour = \"red\""), "{err}");
    }
}

//! Colours come from semantic roles, so a theme is a small TOML file and a problem reads the
//! same in every theme (the text marker carries the meaning; colour only reinforces it).

use crate::diag::FileError;
use crate::model::Level;
use include_dir::{Dir, include_dir};
use ratatui::style::{Color, Modifier, Style};
use serde::Deserialize;
use std::path::{Path, PathBuf};
use toml::Spanned;

static EMBEDDED: Dir<'_> = include_dir!("$CARGO_MANIFEST_DIR/themes");

#[derive(Debug, Clone, PartialEq)]
pub struct Theme {
    pub name: String,
    pub text: Style,
    pub muted: Style,
    pub ok: Style,
    pub warn: Style,
    pub crit: Style,
    pub accent: Style,
    pub focus: Style,
    pub border: Style,
    pub title: Style,
    pub banner: Style,
}

impl Theme {
    pub fn level(&self, level: Level) -> Style {
        match level {
            Level::Off => self.muted,
            Level::Ok => self.ok,
            Level::Warn => self.warn,
            Level::Crit => self.crit,
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ThemeFile {
    /// A user theme overrides only what it names; the rest comes from this theme.
    extends: Option<Spanned<String>>,
    text: Option<RoleSpec>,
    muted: Option<RoleSpec>,
    ok: Option<RoleSpec>,
    warn: Option<RoleSpec>,
    crit: Option<RoleSpec>,
    accent: Option<RoleSpec>,
    focus: Option<RoleSpec>,
    border: Option<RoleSpec>,
    title: Option<RoleSpec>,
    banner: Option<RoleSpec>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RoleSpec {
    fg: Option<Spanned<String>>,
    bg: Option<Spanned<String>>,
    #[serde(default)]
    modifiers: Vec<Spanned<String>>,
}

/// Where themes are looked up: the user's directory first, then the embedded ones.
#[derive(Debug, Clone)]
pub struct ThemeStore {
    user_dir: Option<PathBuf>,
}

impl ThemeStore {
    pub fn new(user_dir: Option<PathBuf>) -> Self {
        ThemeStore { user_dir }
    }

    /// Every theme name that can be loaded, for `:theme` completion.
    pub fn names(&self) -> Vec<String> {
        let mut names: Vec<String> = EMBEDDED
            .files()
            .filter_map(|f| f.path().file_stem()?.to_str().map(str::to_string))
            .collect();
        if let Some(dir) = &self.user_dir
            && let Ok(entries) = std::fs::read_dir(dir)
        {
            for e in entries.flatten() {
                let path = e.path();
                if path.extension().is_some_and(|x| x == "toml")
                    && let Some(stem) = path.file_stem().and_then(|s| s.to_str())
                {
                    names.push(stem.to_string());
                }
            }
        }
        names.sort();
        names.dedup();
        names
    }

    pub fn load(&self, name: &str) -> Result<Theme, ThemeError> {
        self.load_chain(name, 0)
    }

    fn load_chain(&self, name: &str, depth: usize) -> Result<Theme, ThemeError> {
        if depth > 4 {
            return Err(ThemeError::Cycle(name.to_string()));
        }
        let (path, text) = self.read(name)?;
        let file: ThemeFile = toml::from_str(&text)
            .map_err(|e| ThemeError::File(FileError::from_toml(&path, &text, &e)))?;
        let base = match &file.extends {
            Some(parent) if parent.get_ref() == name => {
                return Err(ThemeError::File(FileError::at(
                    &path,
                    &text,
                    parent.span().start,
                    format!("theme `{name}` cannot extend itself"),
                )));
            }
            Some(parent) => self.load_chain(parent.get_ref(), depth + 1)?,
            None if name == "default" => blank(),
            None => self.load_chain("default", depth + 1)?,
        };
        apply(base, name, &file, &path, &text).map_err(ThemeError::File)
    }

    fn read(&self, name: &str) -> Result<(PathBuf, String), ThemeError> {
        if let Some(dir) = &self.user_dir {
            let path = dir.join(format!("{name}.toml"));
            match std::fs::read_to_string(&path) {
                Ok(text) => return Ok((path, text)),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => {
                    return Err(ThemeError::Io {
                        path,
                        error: e.to_string(),
                    });
                }
            }
        }
        let file =
            EMBEDDED
                .get_file(format!("{name}.toml"))
                .ok_or_else(|| ThemeError::Unknown {
                    name: name.to_string(),
                    available: self.names(),
                })?;
        let text = file.contents_utf8().unwrap_or_default().to_string();
        Ok((Path::new("themes").join(format!("{name}.toml")), text))
    }
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ThemeError {
    #[error("unknown theme `{name}` (available: {})", available.join(", "))]
    Unknown {
        name: String,
        available: Vec<String>,
    },
    #[error("{0}")]
    File(FileError),
    #[error("cannot read theme {}: {error}", path.display())]
    Io { path: PathBuf, error: String },
    #[error("theme `{0}` extends itself through a chain")]
    Cycle(String),
}

fn blank() -> Theme {
    let s = Style::default();
    Theme {
        name: String::new(),
        text: s,
        muted: s,
        ok: s,
        warn: s,
        crit: s,
        accent: s,
        focus: s,
        border: s,
        title: s,
        banner: s,
    }
}

fn apply(
    mut theme: Theme,
    name: &str,
    file: &ThemeFile,
    path: &Path,
    text: &str,
) -> Result<Theme, FileError> {
    theme.name = name.to_string();
    let roles: [(&str, &Option<RoleSpec>, &mut Style); 10] = [
        ("text", &file.text, &mut theme.text),
        ("muted", &file.muted, &mut theme.muted),
        ("ok", &file.ok, &mut theme.ok),
        ("warn", &file.warn, &mut theme.warn),
        ("crit", &file.crit, &mut theme.crit),
        ("accent", &file.accent, &mut theme.accent),
        ("focus", &file.focus, &mut theme.focus),
        ("border", &file.border, &mut theme.border),
        ("title", &file.title, &mut theme.title),
        ("banner", &file.banner, &mut theme.banner),
    ];
    for (role, spec, style) in roles {
        if let Some(spec) = spec {
            *style = role_style(role, spec, path, text)?;
        }
    }
    Ok(theme)
}

fn role_style(role: &str, spec: &RoleSpec, path: &Path, text: &str) -> Result<Style, FileError> {
    let colour = |field: &str, value: &Spanned<String>| -> Result<Color, FileError> {
        value.get_ref().parse::<Color>().map_err(|_| {
            FileError::at(
                path,
                text,
                value.span().start,
                format!("`{role}.{field}`: unknown colour `{}` (use a name like `light-red`, 0-255 or #rrggbb)", value.get_ref()),
            )
        })
    };
    let mut style = Style::default();
    if let Some(fg) = &spec.fg {
        style = style.fg(colour("fg", fg)?);
    }
    if let Some(bg) = &spec.bg {
        style = style.bg(colour("bg", bg)?);
    }
    for m in &spec.modifiers {
        let modifier = match m.get_ref().as_str() {
            "bold" => Modifier::BOLD,
            "dim" => Modifier::DIM,
            "italic" => Modifier::ITALIC,
            "underlined" => Modifier::UNDERLINED,
            "reversed" => Modifier::REVERSED,
            other => {
                return Err(FileError::at(
                    path,
                    text,
                    m.span().start,
                    format!(
                        "`{role}.modifiers`: unknown modifier `{other}` (bold, dim, italic, underlined, reversed)"
                    ),
                ));
            }
        };
        style = style.add_modifier(modifier);
    }
    Ok(style)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_embedded_theme_loads() {
        let store = ThemeStore::new(None);
        assert_eq!(store.names(), ["default", "high-contrast", "light", "mono"]);
        for name in store.names() {
            assert_eq!(store.load(&name).unwrap().name, name);
        }
    }

    #[test]
    fn mono_has_no_colour_at_all() {
        let t = ThemeStore::new(None).load("mono").unwrap();
        for style in [
            t.text, t.muted, t.ok, t.warn, t.crit, t.accent, t.focus, t.border, t.title, t.banner,
        ] {
            assert!(matches!(style.fg, None | Some(Color::Reset)), "{style:?}");
            assert!(matches!(style.bg, None | Some(Color::Reset)), "{style:?}");
        }
    }

    #[test]
    fn user_theme_overrides_only_what_it_names() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("mine.toml"),
            "extends = \"light\"\ncrit = { fg = \"#ff0000\" }\n",
        )
        .unwrap();
        let store = ThemeStore::new(Some(dir.path().to_path_buf()));
        let mine = store.load("mine").unwrap();
        let light = store.load("light").unwrap();
        assert_eq!(mine.crit.fg, Some(Color::Rgb(255, 0, 0)));
        assert_eq!(mine.ok, light.ok);
        assert!(store.names().contains(&"mine".to_string()));
    }

    #[test]
    fn bad_colour_names_its_place() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("bad.toml"),
            "ok = { fg = \"green\" }\nwarn = { fg = \"blurple\" }\n",
        )
        .unwrap();
        let err = ThemeStore::new(Some(dir.path().to_path_buf()))
            .load("bad")
            .unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("bad.toml:2:15: `warn.fg`: unknown colour `blurple`"),
            "{text}"
        );
    }

    #[test]
    fn unknown_theme_lists_the_known_ones() {
        let err = ThemeStore::new(None).load("nope").unwrap_err();
        assert_eq!(
            err.to_string(),
            "unknown theme `nope` (available: default, high-contrast, light, mono)"
        );
    }
}

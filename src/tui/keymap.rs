//! Keys are data: embedded defaults, overridden per command by the user's `keymap.toml`.
//! A bad entry is reported (with its line) and that command keeps its default keys.

use super::action::Command;
use crate::diag::FileError;
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use toml::Spanned;

const DEFAULTS: &str = include_str!("default_keymap.toml");

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Key {
    pub code: KeyCode,
    pub mods: KeyModifiers,
}

impl Key {
    /// Shift is part of the character itself (`G`, `?`), so it is not matched separately.
    pub fn from_event(ev: &KeyEvent) -> Key {
        let mut mods =
            ev.modifiers & (KeyModifiers::CONTROL | KeyModifiers::ALT | KeyModifiers::SHIFT);
        if matches!(ev.code, KeyCode::Char(_) | KeyCode::BackTab) {
            mods.remove(KeyModifiers::SHIFT);
        }
        Key {
            code: ev.code,
            mods,
        }
    }

    pub fn parse(spec: &str) -> Result<Key, String> {
        let mut mods = KeyModifiers::NONE;
        let mut rest = spec;
        loop {
            if let Some(r) = rest.strip_prefix("ctrl-") {
                mods |= KeyModifiers::CONTROL;
                rest = r;
            } else if let Some(r) = rest.strip_prefix("alt-") {
                mods |= KeyModifiers::ALT;
                rest = r;
            } else {
                break;
            }
        }
        let mut chars = rest.chars();
        let code = match (chars.next(), chars.next()) {
            (Some(c), None) => KeyCode::Char(c),
            _ => match rest {
                "enter" => KeyCode::Enter,
                "esc" => KeyCode::Esc,
                "tab" => KeyCode::Tab,
                "backtab" => KeyCode::BackTab,
                "up" => KeyCode::Up,
                "down" => KeyCode::Down,
                "left" => KeyCode::Left,
                "right" => KeyCode::Right,
                "pageup" => KeyCode::PageUp,
                "pagedown" => KeyCode::PageDown,
                "home" => KeyCode::Home,
                "end" => KeyCode::End,
                "space" => KeyCode::Char(' '),
                "backspace" => KeyCode::Backspace,
                f if f.starts_with('f') => match f[1..].parse::<u8>() {
                    Ok(n @ 1..=12) => KeyCode::F(n),
                    _ => return Err(format!("unknown key `{spec}`")),
                },
                _ => return Err(format!("unknown key `{spec}`")),
            },
        };
        Ok(Key { code, mods })
    }

    pub fn label(&self) -> String {
        let mut out = String::new();
        if self.mods.contains(KeyModifiers::CONTROL) {
            out.push_str("ctrl-");
        }
        if self.mods.contains(KeyModifiers::ALT) {
            out.push_str("alt-");
        }
        match self.code {
            KeyCode::Char(' ') => out.push_str("space"),
            KeyCode::Char(c) => out.push(c),
            KeyCode::F(n) => out.push_str(&format!("f{n}")),
            KeyCode::BackTab => out.push_str("shift-tab"),
            KeyCode::PageUp => out.push_str("pgup"),
            KeyCode::PageDown => out.push_str("pgdn"),
            other => out.push_str(&format!("{other:?}").to_lowercase()),
        }
        out
    }
}

#[derive(Debug, Clone)]
pub struct Keymap {
    bindings: BTreeMap<Command, Vec<Key>>,
    lookup: HashMap<Key, Command>,
}

impl Keymap {
    pub fn defaults() -> Keymap {
        let (keymap, problems) = Keymap::from_text(None, Path::new("default_keymap.toml"), "");
        debug_assert!(problems.is_empty(), "{problems:?}");
        keymap
    }

    /// Reads the user's keymap if it exists; problems are returned for the screen, never fatal.
    pub fn load(path: &Path) -> (Keymap, Vec<FileError>) {
        match std::fs::read_to_string(path) {
            Ok(text) => Keymap::from_text(Some(&text), path, &text),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => (Keymap::defaults(), vec![]),
            Err(e) => (
                Keymap::defaults(),
                vec![FileError::at(path, "", 0, format!("cannot read: {e}"))],
            ),
        }
    }

    fn from_text(user: Option<&str>, path: &Path, text: &str) -> (Keymap, Vec<FileError>) {
        let mut bindings = parse_entries(DEFAULTS, Path::new("default_keymap.toml"))
            .map(|(b, _)| b)
            .unwrap_or_default();
        let mut problems = Vec::new();
        let mut overridden = BTreeMap::new();
        if let Some(user) = user {
            match parse_entries(user, path) {
                Ok((entries, errs)) => {
                    problems.extend(errs);
                    overridden = entries;
                }
                Err(e) => problems.push(e),
            }
        }
        // A key the user gives to one command is taken away from whichever default had it.
        let claimed: Vec<Key> = overridden.values().flatten().copied().collect();
        for keys in bindings.values_mut() {
            keys.retain(|k| !claimed.contains(k));
        }
        for (cmd, keys) in overridden {
            bindings.insert(cmd, keys);
        }
        let mut lookup = HashMap::new();
        for (cmd, keys) in &bindings {
            for k in keys {
                if let Some(other) = lookup.insert(*k, *cmd) {
                    problems.push(FileError::at(
                        path,
                        text,
                        0,
                        format!(
                            "key `{}` is bound to both `{}` and `{}`",
                            k.label(),
                            other.name(),
                            cmd.name()
                        ),
                    ));
                }
            }
        }
        (Keymap { bindings, lookup }, problems)
    }

    pub fn command(&self, ev: &KeyEvent) -> Option<Command> {
        self.lookup.get(&Key::from_event(ev)).copied()
    }

    /// `q, esc` — for help and footer hints.
    pub fn keys_of(&self, cmd: Command) -> String {
        self.bindings
            .get(&cmd)
            .map(|keys| keys.iter().map(Key::label).collect::<Vec<_>>().join(", "))
            .unwrap_or_default()
    }

    /// Every command with its keys and description, in help order.
    pub fn help(&self) -> Vec<(String, &'static str)> {
        Command::ALL
            .iter()
            .map(|c| (self.keys_of(*c), c.describe()))
            .collect()
    }
}

type Entries = BTreeMap<Command, Vec<Key>>;

fn parse_entries(text: &str, path: &Path) -> Result<(Entries, Vec<FileError>), FileError> {
    let raw: BTreeMap<Spanned<String>, Spanned<Vec<Spanned<String>>>> =
        toml::from_str(text).map_err(|e| FileError::from_toml(path, text, &e))?;
    let mut out = BTreeMap::new();
    let mut problems = Vec::new();
    for (name, keys) in raw {
        let Some(cmd) = Command::from_name(name.get_ref()) else {
            problems.push(FileError::at(
                path,
                text,
                name.span().start,
                format!("unknown command `{}`; default keys kept", name.get_ref()),
            ));
            continue;
        };
        let mut parsed = Vec::new();
        let mut bad = false;
        for k in keys.get_ref() {
            match Key::parse(k.get_ref()) {
                Ok(key) => parsed.push(key),
                Err(msg) => {
                    bad = true;
                    problems.push(FileError::at(
                        path,
                        text,
                        k.span().start,
                        format!("{msg} for `{}`; default keys kept", cmd.name()),
                    ));
                }
            }
        }
        if !bad {
            out.insert(cmd, parsed);
        }
    }
    Ok((out, problems))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn press(code: KeyCode, mods: KeyModifiers) -> KeyEvent {
        KeyEvent::new(code, mods)
    }

    #[test]
    fn defaults_bind_every_command() {
        let km = Keymap::defaults();
        for cmd in Command::ALL {
            assert!(!km.keys_of(cmd).is_empty(), "{} has no key", cmd.name());
        }
        assert_eq!(
            km.command(&press(KeyCode::Char('j'), KeyModifiers::NONE)),
            Some(Command::Down)
        );
        assert_eq!(
            km.command(&press(KeyCode::Char('G'), KeyModifiers::SHIFT)),
            Some(Command::Bottom)
        );
        assert_eq!(
            km.command(&press(KeyCode::Char('c'), KeyModifiers::CONTROL)),
            Some(Command::Quit)
        );
        assert_eq!(
            km.command(&press(KeyCode::BackTab, KeyModifiers::SHIFT)),
            Some(Command::PrevPane)
        );
    }

    #[test]
    fn user_entry_replaces_the_default_and_steals_its_key() {
        let (km, problems) = Keymap::from_text(
            Some("up = [\"j\"]\n"),
            Path::new("k.toml"),
            "up = [\"j\"]\n",
        );
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(
            km.command(&press(KeyCode::Char('j'), KeyModifiers::NONE)),
            Some(Command::Up)
        );
        assert_eq!(
            km.command(&press(KeyCode::Char('k'), KeyModifiers::NONE)),
            None
        );
        assert_eq!(km.keys_of(Command::Down), "down");
    }

    #[test]
    fn bad_entries_are_reported_with_their_line_and_fall_back() {
        let text = "down = [\"n\"]\nqiut = [\"x\"]\nup = [\"ctrl-zz\"]\n";
        let (km, problems) = Keymap::from_text(Some(text), Path::new("keymap.toml"), text);
        let msgs: Vec<String> = problems
            .iter()
            .map(|p| format!("{}:{}: {}", p.line, p.col, p.message))
            .collect();
        assert_eq!(
            msgs,
            [
                "2:1: unknown command `qiut`; default keys kept",
                "3:7: unknown key `ctrl-zz` for `up`; default keys kept",
            ]
        );
        assert_eq!(km.keys_of(Command::Up), "up, k");
        assert_eq!(km.keys_of(Command::Down), "n");
    }

    #[test]
    fn a_broken_file_keeps_every_default() {
        let text = "down = [\"n\"\n";
        let (km, problems) = Keymap::from_text(Some(text), Path::new("keymap.toml"), text);
        assert_eq!(problems.len(), 1);
        assert_eq!(problems[0].line, 1);
        assert_eq!(km.keys_of(Command::Down), "down, j");
    }
}

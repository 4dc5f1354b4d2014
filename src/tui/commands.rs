//! The `:` command line: parsing and Tab completion.

use super::app::{ClusterTab, IamTab, Pane};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Parsed {
    Quit,
    Help,
    Go(Pane),
    Cluster(ClusterTab),
    Iam(IamTab),
    Theme(String),
    NewIncident,
    /// A note for the timeline; empty opens the note form.
    Note(String),
    Drill(Option<String>),
    Nothing,
}

/// Every command word, in the order completion offers them.
pub const WORDS: [&str; 19] = [
    "overview",
    "cluster",
    "nodes",
    "deploy",
    "pods",
    "hpa",
    "pdb",
    "events",
    "db",
    "waf",
    "alarms",
    "iam",
    "findings",
    "trail",
    "playbooks",
    "theme",
    "help",
    "q",
    "quit",
];

pub fn parse(line: &str) -> Result<Parsed, String> {
    let mut words = line.split_whitespace();
    let Some(word) = words.next() else {
        return Ok(Parsed::Nothing);
    };
    let arg = words.next();
    Ok(match word {
        "q" | "q!" | "quit" => Parsed::Quit,
        "help" | "?" => Parsed::Help,
        "overview" | "ov" => Parsed::Go(Pane::Overview),
        "cluster" | "k8s" => Parsed::Go(Pane::Cluster),
        "nodes" | "no" | "node" => Parsed::Cluster(ClusterTab::Nodes),
        "deploy" | "deployments" | "dp" => Parsed::Cluster(ClusterTab::Deployments),
        "pods" | "po" | "pod" => Parsed::Cluster(ClusterTab::Pods),
        "hpa" => Parsed::Cluster(ClusterTab::Hpa),
        "pdb" => Parsed::Cluster(ClusterTab::Pdb),
        "events" | "ev" => Parsed::Cluster(ClusterTab::Events),
        "db" => Parsed::Go(Pane::Db),
        "waf" => Parsed::Go(Pane::Waf),
        "alarms" | "alerts" => Parsed::Go(Pane::Alarms),
        "iam" | "users" => Parsed::Iam(IamTab::Users),
        "findings" => Parsed::Iam(IamTab::Findings),
        "trail" | "cloudtrail" => Parsed::Go(Pane::Trail),
        "playbooks" | "pb" => Parsed::Go(Pane::Playbooks),
        "incident" | "inc" => match arg {
            Some("new") => Parsed::NewIncident,
            None => Parsed::Go(Pane::Incident),
            Some(other) => return Err(format!("usage: :incident [new] (not `{other}`)")),
        },
        "note" => Parsed::Note(
            line.trim_start()
                .strip_prefix("note")
                .unwrap_or_default()
                .trim()
                .to_string(),
        ),
        "drill" => Parsed::Drill(arg.map(str::to_string)),
        "theme" => match arg {
            Some(name) => Parsed::Theme(name.to_string()),
            None => return Err("usage: :theme NAME (Tab lists themes)".into()),
        },
        other => return Err(format!("unknown command `{other}` (Tab lists commands)")),
    })
}

/// The result of pressing Tab: the line as completed, and the choices left.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Completion {
    pub line: String,
    pub candidates: Vec<String>,
}

pub fn complete(line: &str, themes: &[String]) -> Completion {
    let drills = || {
        crate::drill::scenarios()
            .into_iter()
            .filter_map(|s| s.ok().map(|s| s.name))
            .collect()
    };
    let (prefix, choices, partial): (&str, Vec<String>, &str) = match line.split_once(' ') {
        Some(("theme", partial)) => ("theme ", themes.to_vec(), partial.trim_start()),
        Some(("drill", partial)) => ("drill ", drills(), partial.trim_start()),
        Some(_) => {
            return Completion {
                line: line.to_string(),
                candidates: vec![],
            };
        }
        None => ("", WORDS.iter().map(|w| w.to_string()).collect(), line),
    };
    let candidates: Vec<String> = choices
        .into_iter()
        .filter(|c| c.starts_with(partial))
        .collect();
    let completed = match candidates.as_slice() {
        [] => partial.to_string(),
        [one] if prefix.is_empty() && one == "theme" => "theme ".to_string(),
        [one] => one.clone(),
        many => common_prefix(many),
    };
    Completion {
        line: format!("{prefix}{completed}"),
        candidates,
    }
}

fn common_prefix(words: &[String]) -> String {
    let first = &words[0];
    let mut len = first.len();
    for w in &words[1..] {
        len = first
            .chars()
            .zip(w.chars())
            .take_while(|(a, b)| a == b)
            .map(|(a, _)| a.len_utf8())
            .sum::<usize>()
            .min(len);
    }
    first[..len].to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn themes() -> Vec<String> {
        ["default", "high-contrast", "light", "mono"]
            .map(String::from)
            .to_vec()
    }

    #[test]
    fn completes_commands_and_theme_names() {
        assert_eq!(complete("po", &themes()).line, "pods");
        assert_eq!(
            complete("p", &themes()),
            Completion {
                line: "p".into(),
                candidates: vec!["pods".into(), "pdb".into(), "playbooks".into()],
            }
        );
        assert_eq!(complete("th", &themes()).line, "theme ");
        assert_eq!(complete("theme m", &themes()).line, "theme mono");
        assert_eq!(complete("theme ", &themes()).candidates.len(), 4);
        assert_eq!(complete("zz", &themes()).candidates, Vec::<String>::new());
        assert_eq!(
            complete("drill db", &themes()).line,
            "drill db-primary-down"
        );
    }

    #[test]
    fn parses_every_word() {
        for w in WORDS {
            let line = if w == "theme" {
                "theme mono".to_string()
            } else {
                w.to_string()
            };
            assert!(parse(&line).is_ok(), "{w}");
        }
        assert_eq!(parse("pods"), Ok(Parsed::Cluster(ClusterTab::Pods)));
        assert_eq!(parse("  "), Ok(Parsed::Nothing));
        assert_eq!(
            parse("nope").unwrap_err(),
            "unknown command `nope` (Tab lists commands)"
        );
        assert!(parse("theme").is_err());
    }
}

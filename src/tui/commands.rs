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
    /// `:service NAME`: tag the open incident with the service it hits.
    Service(String),
    Drill(Option<String>),
    /// `:ctx NAME`: the cluster pane and operations move to that kubeconfig context.
    Context(String),
    /// `:ns NAME`, or `None` for `:ns all`: the namespace the active context watches.
    Namespace(Option<String>),
    /// `:ctx` or `:ns` alone: which contexts there are and what each one watches.
    Contexts,
    /// `:trail user=alice since=2h`: the Trail pane, its events filtered so.
    Trail(String),
    /// `:logs POD [CONTAINER]`, `:logs deploy/NAME`: the log view (`ns/name` works too).
    Logs {
        target: String,
        container: Option<String>,
    },
    /// `:merge`: merge the incident opened twice while partitioned into the first one.
    Merge,
    /// `:role comms`, `:role commander`: this user takes the role.
    Role(crate::incident::event::Role),
    /// `:handover USER`: USER commands the incident from now on.
    Handover(String),
    Nothing,
}

/// Every command word, in the order completion offers them.
pub const WORDS: [&str; 22] = [
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
    "logs",
    "playbooks",
    "ctx",
    "ns",
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
        "trail" | "cloudtrail" => Parsed::Trail(
            line.split_whitespace()
                .skip(1)
                .collect::<Vec<_>>()
                .join(" "),
        ),
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
        "merge" => Parsed::Merge,
        "role" => match arg {
            Some("comms") => Parsed::Role(crate::incident::event::Role::Comms),
            Some("commander") => Parsed::Role(crate::incident::event::Role::Commander),
            _ => return Err("usage: :role comms|commander".into()),
        },
        "handover" => match arg {
            Some(user) => Parsed::Handover(user.to_string()),
            None => return Err("usage: :handover USER (who commands the incident next)".into()),
        },
        "service" => match arg {
            Some(name) => Parsed::Service(name.to_string()),
            None => return Err("usage: :service NAME (the service the incident hits)".into()),
        },
        "ctx" | "context" | "contexts" => match arg {
            Some(name) => Parsed::Context(name.to_string()),
            None => Parsed::Contexts,
        },
        "ns" | "namespace" | "namespaces" => match arg {
            None => Parsed::Contexts,
            Some("all" | "*" | "-A") => Parsed::Namespace(None),
            Some(name) if is_namespace_name(name) => Parsed::Namespace(Some(name.to_string())),
            Some(other) => {
                return Err(format!(
                    "`{other}` is not a namespace name (lowercase letters, digits, '-'; :ns all for every namespace)"
                ));
            }
        },
        "logs" | "log" => match arg {
            Some(target) => Parsed::Logs {
                target: target.to_string(),
                container: words.next().map(str::to_string),
            },
            None => return Err("usage: :logs POD [CONTAINER] or :logs deploy/NAME".into()),
        },
        "theme" => match arg {
            Some(name) => Parsed::Theme(name.to_string()),
            None => return Err("usage: :theme NAME (Tab lists themes)".into()),
        },
        other => return Err(format!("unknown command `{other}` (Tab lists commands)")),
    })
}

/// An RFC 1123 label, as Kubernetes requires of namespace names.
fn is_namespace_name(name: &str) -> bool {
    let ok = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit();
    name.len() <= 63
        && name.starts_with(ok)
        && name.ends_with(ok)
        && name.chars().all(|c| ok(c) || c == '-')
}

/// The result of pressing Tab: the line as completed, and the choices left.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Completion {
    pub line: String,
    pub candidates: Vec<String>,
}

/// What the arguments of `:theme`, `:ctx` and `:ns` complete from.
#[derive(Debug, Clone, Copy, Default)]
pub struct Choices<'a> {
    pub themes: &'a [String],
    pub contexts: &'a [String],
    pub namespaces: &'a [String],
}

/// Words completed with a trailing space: they take an argument.
const TAKES_ARGUMENT: [&str; 4] = ["theme", "ctx", "ns", "logs"];

pub fn complete(line: &str, choices: &Choices) -> Completion {
    let drills = || {
        crate::drill::scenarios()
            .into_iter()
            .filter_map(|s| s.ok().map(|s| s.name))
            .collect()
    };
    let (prefix, options, partial): (&str, Vec<String>, &str) = match line.split_once(' ') {
        Some(("theme", partial)) => ("theme ", choices.themes.to_vec(), partial.trim_start()),
        Some(("drill", partial)) => ("drill ", drills(), partial.trim_start()),
        Some(("ctx", partial)) => ("ctx ", choices.contexts.to_vec(), partial.trim_start()),
        Some(("ns", partial)) => {
            let mut all = vec!["all".to_string()];
            all.extend_from_slice(choices.namespaces);
            ("ns ", all, partial.trim_start())
        }
        Some(_) => {
            return Completion {
                line: line.to_string(),
                candidates: vec![],
            };
        }
        None => ("", WORDS.iter().map(|w| w.to_string()).collect(), line),
    };
    let candidates: Vec<String> = options
        .into_iter()
        .filter(|c| c.starts_with(partial))
        .collect();
    let completed = match candidates.as_slice() {
        [] => partial.to_string(),
        [one] if prefix.is_empty() && TAKES_ARGUMENT.contains(&one.as_str()) => format!("{one} "),
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

    fn strings(words: &[&str]) -> Vec<String> {
        words.iter().map(|w| w.to_string()).collect()
    }

    fn complete_with(line: &str) -> Completion {
        let themes = strings(&["default", "high-contrast", "light", "mono"]);
        let contexts = strings(&["prod-kr", "prod-us", "stage"]);
        let namespaces = strings(&["payments", "shop"]);
        complete(
            line,
            &Choices {
                themes: &themes,
                contexts: &contexts,
                namespaces: &namespaces,
            },
        )
    }

    #[test]
    fn trail_takes_a_query() {
        assert_eq!(
            parse("trail user=alice  since=2h"),
            Ok(Parsed::Trail("user=alice since=2h".into()))
        );
        assert_eq!(parse("cloudtrail"), Ok(Parsed::Trail(String::new())));
    }

    #[test]
    fn completes_commands_and_theme_names() {
        assert_eq!(complete_with("po").line, "pods");
        assert_eq!(
            complete_with("p"),
            Completion {
                line: "p".into(),
                candidates: vec!["pods".into(), "pdb".into(), "playbooks".into()],
            }
        );
        assert_eq!(complete_with("th").line, "theme ");
        assert_eq!(complete_with("theme m").line, "theme mono");
        assert_eq!(complete_with("theme ").candidates.len(), 4);
        assert_eq!(complete_with("zz").candidates, Vec::<String>::new());
        assert_eq!(complete_with("drill db").line, "drill db-primary-down");
    }

    #[test]
    fn completes_context_and_namespace_names() {
        assert_eq!(complete_with("ct").line, "ctx ");
        assert_eq!(complete_with("ns").line, "ns ");
        assert_eq!(
            complete_with("ctx "),
            Completion {
                line: "ctx ".into(),
                candidates: strings(&["prod-kr", "prod-us", "stage"]),
            }
        );
        assert_eq!(complete_with("ctx pr").line, "ctx prod-");
        assert_eq!(complete_with("ctx prod-u").line, "ctx prod-us");
        assert_eq!(complete_with("ctx nope").candidates, Vec::<String>::new());
        assert_eq!(
            complete_with("ns ").candidates,
            strings(&["all", "payments", "shop"])
        );
        assert_eq!(complete_with("ns p").line, "ns payments");
        assert_eq!(complete_with("ns a").line, "ns all");
    }

    #[test]
    fn parses_context_and_namespace_commands() {
        assert_eq!(parse("ctx prod-us"), Ok(Parsed::Context("prod-us".into())));
        assert_eq!(
            parse("context prod-us"),
            Ok(Parsed::Context("prod-us".into()))
        );
        assert_eq!(parse("ctx"), Ok(Parsed::Contexts));
        assert_eq!(parse("ns"), Ok(Parsed::Contexts));
        assert_eq!(parse("ns shop"), Ok(Parsed::Namespace(Some("shop".into()))));
        for all in ["ns all", "ns *", "namespace -A"] {
            assert_eq!(parse(all), Ok(Parsed::Namespace(None)), "{all}");
        }
        for bad in ["ns Shop", "ns -shop", "ns shop-", "ns a_b", "ns ../x"] {
            let err = parse(bad).unwrap_err();
            assert!(err.contains("is not a namespace name"), "{bad}: {err}");
        }
        assert!(parse(&format!("ns {}", "a".repeat(64))).is_err());
        assert!(parse(&format!("ns {}", "a".repeat(63))).is_ok());
    }

    #[test]
    fn parses_every_word() {
        for w in WORDS {
            let line = match w {
                "theme" => "theme mono".to_string(),
                "logs" => "logs user-c".to_string(),
                w => w.to_string(),
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
        assert!(parse("logs").is_err());
        assert_eq!(
            parse("logs deploy/user app"),
            Ok(Parsed::Logs {
                target: "deploy/user".into(),
                container: Some("app".into())
            })
        );
    }
}

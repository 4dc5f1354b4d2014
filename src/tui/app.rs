//! Console state and `update`: every change to what the screen shows goes through here, and
//! nothing here does I/O, so it is tested without a terminal.

use super::action::{Action, Command};
use super::commands::{self, Completion};
use super::data::Data;
use super::effects::Effect;
use super::forms::{Form, Outcome};
use super::keymap::Keymap;
use super::panes::{self, TableId};
use super::table::TableView;
use super::theme::{Theme, ThemeStore};
use crate::diag::FileError;
use crate::incident::clock::SlaPolicy;
use crate::incident::objectives::Services;
use crate::model::Level;
use crate::playbook::run::{Prompt, RunView};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use jiff::Timestamp;
use ratatui_textarea::TextArea;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pane {
    Overview,
    Cluster,
    Db,
    Waf,
    Alarms,
    Iam,
    Trail,
    Playbooks,
    Incident,
}

impl Pane {
    pub const ALL: [Pane; 9] = [
        Pane::Overview,
        Pane::Cluster,
        Pane::Db,
        Pane::Waf,
        Pane::Alarms,
        Pane::Iam,
        Pane::Trail,
        Pane::Playbooks,
        Pane::Incident,
    ];

    pub fn title(self) -> &'static str {
        match self {
            Pane::Overview => "Overview",
            Pane::Cluster => "Cluster",
            Pane::Db => "DB",
            Pane::Waf => "WAF",
            Pane::Alarms => "Alarms",
            Pane::Iam => "IAM",
            Pane::Trail => "Trail",
            Pane::Playbooks => "Playbooks",
            Pane::Incident => "Incident",
        }
    }

    /// For terminals too narrow for every full title (80 columns).
    pub fn short(self) -> &'static str {
        match self {
            Pane::Overview => "Home",
            Pane::Cluster => "K8s",
            Pane::Db => "DB",
            Pane::Waf => "WAF",
            Pane::Alarms => "Alarms",
            Pane::Iam => "IAM",
            Pane::Trail => "Trail",
            Pane::Playbooks => "Books",
            Pane::Incident => "Incident",
        }
    }

    pub fn index(self) -> usize {
        Pane::ALL.iter().position(|p| *p == self).unwrap_or(0)
    }
}

/// Sections of the panes that have more than one table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClusterTab {
    Nodes,
    Deployments,
    Pods,
    Hpa,
    Pdb,
    Events,
}

impl ClusterTab {
    pub const ALL: [ClusterTab; 6] = [
        ClusterTab::Nodes,
        ClusterTab::Deployments,
        ClusterTab::Pods,
        ClusterTab::Hpa,
        ClusterTab::Pdb,
        ClusterTab::Events,
    ];

    /// The feed's name for the tab's section, as in `ClusterSnapshot::loading`.
    pub fn section(self) -> &'static str {
        match self {
            ClusterTab::Nodes => "nodes",
            ClusterTab::Deployments => "deployments",
            ClusterTab::Pods => "pods",
            ClusterTab::Hpa => "hpa",
            ClusterTab::Pdb => "pdb",
            ClusterTab::Events => "events",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IamTab {
    Users,
    Findings,
}

/// Where the console's data comes from, shown in the header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    Drill {
        seed: u64,
    },
    /// Real systems; the text says which (databases, contexts).
    Live {
        what: String,
    },
}

/// A text field at the bottom of the screen.
pub enum Input {
    Idle,
    Filter(TextArea<'static>),
    Command {
        field: TextArea<'static>,
        completion: Option<Completion>,
    },
}

/// One new thing in CloudTrail worth a reviewer's (or an incident's) attention.
struct TrailNews {
    time: Timestamp,
    user: String,
    call: String,
    source_ip: String,
    risk: String,
}

pub struct App {
    pub origin: Origin,
    pub pane: Pane,
    pub cluster_tab: ClusterTab,
    pub iam_tab: IamTab,
    pub data: Data,
    views: Vec<TableView>,
    pub input: Input,
    /// Help popup, with its scroll position.
    pub help: Option<usize>,
    /// Detail popup of the selected row of this table.
    pub detail: Option<TableId>,
    pub detail_scroll: super::popups::PopupScroll,
    pub theme: Theme,
    pub themes: ThemeStore,
    pub keymap: Keymap,
    /// Problems with the user's files (keymap, themes): listed in help, first one in the footer.
    pub problems: Vec<FileError>,
    /// Once the user has pressed a key the footer stops repeating the first problem.
    pub problems_acknowledged: bool,
    pub message: Option<(Level, String)>,
    pub now: Timestamp,
    pub quit: bool,
    pub sla: SlaPolicy,
    /// RTOs and availability targets.
    pub services: Services,
    /// The running or last playbook run.
    pub run: Option<RunView>,
    /// A yes/no question from the running playbook (text questions use a form).
    pub prompt: Option<Prompt>,
    /// Text to read (title, text, scroll position): a dry-run, a report.
    pub plan: Option<(String, String, usize)>,
    pub form: Option<Form>,
    /// Why mutating steps are forbidden, shown in the header.
    pub read_only: Option<String>,
    /// The SLA checkpoint at which the breach notice was last offered.
    pub notice_offered: Option<usize>,
    /// The kubeconfig's context names, for `:ctx`; empty without live Kubernetes.
    pub kube_contexts: Vec<String>,
    /// The log view, over the cluster pane while open.
    pub logs: Option<super::log_view::LogView>,
    /// Bounds of the log view's buffer (`[logs]` in config.toml).
    pub log_limits: crate::model::logs::LogLimits,
    /// The fetched describe-style detail of the object whose detail is open (`Err`: why not).
    pub described: Option<crate::model::inspect::Described>,
    /// Risky CloudTrail events (and denial bursts) that arrived since the Trail pane was
    /// last looked at: its tab shows the count.
    pub trail_news: usize,
    /// With `[team]`: how the team journal is doing and who else is here.
    pub team: Option<crate::incident::team::follow::TeamStatus>,
    /// Incidents opened twice for one alarm while partitioned, as (survivor, other).
    pub merge_offers: Vec<(String, String)>,
    /// The user this console acts as: roles and the breach notice go by it.
    pub user: String,
    /// Work for the runtime, drained after every update.
    pub effects: Vec<Effect>,
}

impl App {
    pub fn new(
        origin: Origin,
        data: Data,
        theme: Theme,
        themes: ThemeStore,
        keymap: Keymap,
        now: Timestamp,
    ) -> App {
        let mut app = App {
            origin,
            pane: Pane::Overview,
            cluster_tab: ClusterTab::Pods,
            iam_tab: IamTab::Users,
            data,
            views: TableId::ALL.iter().map(|_| TableView::default()).collect(),
            input: Input::Idle,
            help: None,
            detail: None,
            detail_scroll: Default::default(),
            theme,
            themes,
            keymap,
            problems: Vec::new(),
            problems_acknowledged: false,
            message: None,
            now,
            quit: false,
            sla: SlaPolicy::default(),
            services: Services::default(),
            run: None,
            prompt: None,
            trail_news: 0,
            plan: None,
            form: None,
            read_only: None,
            notice_offered: None,
            kube_contexts: Vec::new(),
            logs: None,
            log_limits: crate::model::logs::LogLimits::default(),
            described: None,
            team: None,
            merge_offers: Vec::new(),
            user: String::new(),
            effects: Vec::new(),
        };
        for id in TableId::ALL {
            app.refresh(id);
        }
        app
    }

    pub fn view(&self, id: TableId) -> &TableView {
        &self.views[id as usize]
    }

    fn view_mut(&mut self, id: TableId) -> &mut TableView {
        &mut self.views[id as usize]
    }

    /// Re-applies the filter of one table to its current data.
    fn refresh(&mut self, id: TableId) {
        let rows = panes::rows(id, &self.data);
        let view = &mut self.views[id as usize];
        view.refresh(rows.as_ref(), self.now);
    }

    /// The table that keys act on in the current pane.
    pub fn current_table(&self) -> TableId {
        panes::table_of(self.pane, self.cluster_tab, self.iam_tab)
    }

    /// True while something on screen changes with the clock alone (staleness of a failing
    /// source), so the loop knows whether it needs a timer at all.
    pub fn needs_tick(&self) -> bool {
        self.data.any_failing() || self.data.incident.is_some()
    }

    /// Turns a key press into an action: text fields take raw keys, otherwise the keymap decides.
    pub fn key_action(&self, ev: KeyEvent) -> Option<Action> {
        let ctrl_c = ev.code == KeyCode::Char('c') && ev.modifiers.contains(KeyModifiers::CONTROL);
        let typing = !matches!(self.input, Input::Idle)
            || self.form.is_some()
            || self.prompt.is_some()
            || (self.logs.is_some() && self.help.is_none());
        if typing && !ctrl_c {
            return Some(Action::Key(ev));
        }
        self.keymap.command(&ev).map(Action::Command)
    }

    pub fn handle_key(&mut self, ev: KeyEvent) {
        if let Some(action) = self.key_action(ev) {
            self.update(action);
        }
    }

    pub fn update(&mut self, action: Action) {
        match action {
            Action::Command(cmd) => {
                self.message = None;
                self.problems_acknowledged = true;
                self.command(cmd);
            }
            Action::Key(ev) if self.form.is_some() => self.form_key(ev),
            Action::Key(ev) if self.prompt.is_some() => self.prompt_key(ev),
            Action::Key(ev) if self.logs.is_some() && matches!(self.input, Input::Idle) => {
                self.log_key(ev)
            }
            Action::Key(ev) => self.text_key(ev),
            Action::Run(line) => self.run_line(&line),
            Action::Tick(now) => {
                self.now = self.now.max(now);
                self.offer_notice();
            }
            Action::Incident(incident) => {
                let id = |i: &Option<Box<crate::incident::state::Incident>>| {
                    i.as_ref().map(|i| i.id.clone())
                };
                let newly = id(&incident).is_some() && id(&incident) != id(&self.data.incident);
                self.data.incident = incident;
                if newly {
                    self.journal_standing_region_crits();
                    self.journal_standing_backup_breaches();
                }
                self.refresh(TableId::Timeline);
            }
            Action::Past(past) => self.data.past = past,
            Action::Team(status) => self.team_round(*status),
            Action::MergeOffers(offers) => self.offer_merges(offers),
            Action::Progress(view) => self.run = Some(view),
            Action::Ask(prompt) => self.ask(prompt),
            Action::Show { title, text } => self.plan = Some((title, text, 0)),
            Action::Say(level, text) => self.message = Some((level, text)),
            Action::UserChecked(check) => {
                // Only for the user still on screen: a late answer for another is dropped.
                if self
                    .data
                    .user_check
                    .as_ref()
                    .is_some_and(|c| c.user == check.user)
                {
                    self.data.user_check = Some(*check);
                }
            }
            Action::AlarmHistory { key, text } => self.data.alarm_history = Some((key, text)),
            Action::Described { object, pairs } => {
                // Only for the object still on screen.
                if self.described.as_ref().is_some_and(|(o, _)| *o == object) {
                    self.described = Some((object, pairs));
                }
            }
            Action::Resize => {}
            Action::Cluster(feed) => {
                self.see(feed.health.last_ok);
                self.data.set_cluster(feed);
                for id in TableId::CLUSTER {
                    self.refresh(id);
                }
            }
            Action::Contexts(lines) => {
                self.data.set_contexts(lines);
                self.refresh(TableId::Overview);
            }
            Action::Db(feed) => {
                self.see(feed.health.last_ok);
                let before = self.data.backup_status.clone();
                self.data.set_db(feed);
                self.journal_backup_breaches(&before);
                self.refresh(TableId::DbMembers);
            }
            Action::Regions(feed) => {
                self.see(feed.health.last_ok);
                let before = self.data.region_status.clone();
                self.data.set_regions(feed);
                self.journal_region_crits(&before);
            }
            Action::Backups(feed) => {
                self.see(feed.health.last_ok);
                let before = self.data.backup_status.clone();
                self.data.set_backups(feed);
                self.journal_backup_breaches(&before);
            }
            Action::Waf(feed) => {
                self.see(feed.health.last_ok);
                self.data.set_waf(feed);
                self.refresh(TableId::WafBlocked);
            }
            Action::Alarms(feed) => {
                self.see(feed.health.last_ok);
                if self.data.incident.is_some() {
                    self.journal_alarm_changes(&feed.data);
                }
                let selected = self.selected_alarm_key();
                self.data.set_alarms(feed);
                self.refresh(TableId::Alarms);
                self.keep_alarm_selected(selected);
            }
            Action::Iam(feed) => {
                self.see(feed.health.last_ok);
                self.data.set_iam(feed, self.now);
                self.refresh(TableId::IamUsers);
                self.refresh(TableId::IamFindings);
            }
            Action::Trail(feed) => {
                self.see(feed.health.last_ok);
                // A first read brings 90 days: history, not news.
                if self.data.trail.health.last_ok.is_some() {
                    let news = self.trail_news(&feed.data);
                    if self.pane != Pane::Trail {
                        self.trail_news += news.len();
                    }
                    self.journal_trail_events(news);
                }
                self.data.set_trail(feed, self.now);
                self.refresh(TableId::TrailEvents);
            }
        }
    }

    /// On a live account, the user whose detail opens is asked about at once, so stale
    /// credential-report columns show as such. The drill world's data is never stale.
    fn check_user(&mut self) {
        if self.current_table() != TableId::IamUsers
            || self.data.iam.data.report == crate::model::iam::ReportState::None
        {
            return;
        }
        let Some(user) = self
            .view(TableId::IamUsers)
            .selected_row()
            .and_then(|i| self.data.iam.data.users.get(i))
        else {
            return;
        };
        self.data.user_check = Some(crate::model::iam::UserCheck {
            user: user.name.clone(),
            at: self.now,
            fields: vec![],
            key_suffixes: vec![],
            error: Some("asking IAM…".into()),
        });
        self.effects.push(Effect::CheckUser(Box::new(user.clone())));
    }

    /// What `new` brings that the console has not seen: risky events, and bursts of
    /// AccessDenied an identity did not have before, oldest first.
    fn trail_news(&self, new: &crate::model::trail::TrailSnapshot) -> Vec<TrailNews> {
        use crate::model::trail::{TrailEvent, denial_bursts};
        let old = &self.data.trail.data.events;
        let key = |e: &TrailEvent| (e.id.clone(), e.time, e.user.clone(), e.event_name.clone());
        let seen: std::collections::BTreeSet<_> = old.iter().map(key).collect();
        let mut out: Vec<TrailNews> = new
            .events
            .iter()
            .rev()
            .filter(|e| !seen.contains(&key(e)))
            .filter_map(|e| {
                e.risk().map(|(_, why)| TrailNews {
                    time: e.time,
                    user: e.user.clone(),
                    call: e.event_name.clone(),
                    source_ip: e.source_ip.clone(),
                    risk: why.to_string(),
                })
            })
            .collect();
        let before: Vec<String> = denial_bursts(old).into_iter().map(|b| b.user).collect();
        out.extend(
            denial_bursts(&new.events)
                .into_iter()
                .filter(|b| !before.contains(&b.user))
                .map(|b| TrailNews {
                    time: b.last,
                    user: b.user,
                    call: format!("{} refused calls since {}", b.count, b.first),
                    source_ip: String::new(),
                    risk: "burst of access denied".into(),
                }),
        );
        out
    }

    /// During an incident every new risky CloudTrail event goes on its timeline: new to this
    /// console and not older than the incident's recognition.
    fn journal_trail_events(&mut self, news: Vec<TrailNews>) {
        let Some(since) = self.data.incident.as_ref().map(|i| i.recognised_at) else {
            return;
        };
        for n in news.into_iter().filter(|n| n.time >= since) {
            self.effects
                .push(Effect::Record(crate::incident::event::Event::Trail {
                    user: n.user,
                    call: n.call,
                    source_ip: n.source_ip,
                    risk: n.risk,
                }));
        }
    }

    /// Data carries its own time: the drill world's clock, or when a live source answered.
    fn see(&mut self, at: Option<Timestamp>) {
        if let Some(at) = at {
            self.now = self.now.max(at);
        }
    }

    fn command(&mut self, cmd: Command) {
        if let Some(scroll) = self.help {
            let last = super::popups::help_lines(self).len().saturating_sub(1);
            self.help = match cmd {
                Command::Up => Some(scroll.saturating_sub(1)),
                Command::Down => Some((scroll + 1).min(last)),
                Command::PageUp => Some(scroll.saturating_sub(10)),
                Command::PageDown => Some((scroll + 10).min(last)),
                Command::Top => Some(0),
                Command::Bottom => Some(last),
                Command::Quit => {
                    self.quit = true;
                    None
                }
                _ => None,
            };
            return;
        }
        if self.plan.is_some() {
            match cmd {
                Command::Up => {
                    self.plan = self
                        .plan
                        .take()
                        .map(|(h, t, s)| (h, t, s.saturating_sub(1)))
                }
                Command::Down => self.plan = self.plan.take().map(|(h, t, s)| (h, t, s + 1)),
                Command::Quit => self.quit = true,
                _ => self.plan = None,
            }
            return;
        }
        if self.detail.is_some() {
            match cmd {
                Command::Quit => self.quit = true,
                Command::PageUp => self.detail_scroll.by(-1),
                Command::PageDown => self.detail_scroll.by(1),
                Command::Top => self.detail_scroll.top(),
                Command::Bottom => self.detail_scroll.bottom(),
                Command::Up | Command::Down => {
                    self.detail = None;
                    self.command(cmd);
                    self.detail = Some(self.current_table());
                    self.detail_scroll.top();
                    if self.current_table() == TableId::Alarms {
                        self.fetch_history();
                    }
                    self.check_user();
                    self.describe_selected();
                }
                Command::Yaml => self.yaml_selected(),
                Command::Logs => {
                    self.detail = None;
                    self.logs_selected();
                }
                _ => self.detail = None,
            }
            return;
        }
        let table = self.current_table();
        match cmd {
            Command::Quit => self.quit = true,
            Command::Back => self.back(),
            Command::Help => self.help = Some(0),
            Command::CommandLine => {
                self.input = Input::Command {
                    field: text_field(),
                    completion: None,
                };
            }
            Command::Filter => {
                let mut field = text_field();
                field.insert_str(&self.view(table).filter);
                self.input = Input::Filter(field);
            }
            Command::NextPane => self.go(Pane::ALL[(self.pane.index() + 1) % Pane::ALL.len()]),
            Command::PrevPane => {
                self.go(Pane::ALL[(self.pane.index() + Pane::ALL.len() - 1) % Pane::ALL.len()]);
            }
            Command::Pane(n) => self.go(Pane::ALL[(n as usize).clamp(1, Pane::ALL.len()) - 1]),
            Command::NextTab => self.cycle_tab(1),
            Command::PrevTab => self.cycle_tab(-1),
            Command::Up => self.view_mut(table).move_by(-1),
            Command::Down => self.view_mut(table).move_by(1),
            Command::PageUp => {
                let page = self.view(table).page() as isize;
                self.view_mut(table).move_by(-page);
            }
            Command::PageDown => {
                let page = self.view(table).page() as isize;
                self.view_mut(table).move_by(page);
            }
            Command::Top => self.view_mut(table).top(),
            Command::Bottom => self.view_mut(table).bottom(),
            Command::Open => self.open(),
            Command::NewIncident => self.new_incident(),
            Command::Acknowledge => {
                if !self.ack_alert() {
                    self.milestone(crate::incident::event::Milestone::Acknowledged);
                }
            }
            Command::Mitigate => self.milestone(crate::incident::event::Milestone::Mitigated),
            Command::Resolve => self.resolve(),
            Command::BreachNotice => self.breach_notice(),
            Command::DryRun => self.start_playbook(true),
            Command::RunPlaybook => self.start_playbook(false),
            Command::Abort => self.abort(),
            Command::PlaybookForAlarm => self.playbooks_for_alarm(),
            Command::Silence => self.silence(),
            Command::Silences => self.effects.push(Effect::Silences),
            Command::Unsilence => self.unsilence(),
            Command::Logs => self.logs_selected(),
            Command::Yaml => self.yaml_selected(),
        }
    }

    fn form_key(&mut self, ev: KeyEvent) {
        let Some(form) = &mut self.form else { return };
        match form.key(ev, self.now) {
            Outcome::Open => {}
            Outcome::Cancel => {
                // Leaving a question unanswered is a no: the run must not hang on it.
                if form.kind == super::forms::FormKind::Answer {
                    self.effects
                        .push(Effect::Answer(crate::playbook::run::Answer::No));
                }
                self.form = None;
            }
            Outcome::Submit(effect) => {
                self.form = None;
                self.effects.push(effect);
            }
        }
    }

    fn back(&mut self) {
        let table = self.current_table();
        if !self.view(table).filter.is_empty() {
            self.set_filter(table, String::new());
        } else if self.pane != Pane::Overview {
            self.pane = Pane::Overview;
        } else {
            self.quit = true;
        }
    }

    pub fn go(&mut self, pane: Pane) {
        self.pane = pane;
        if pane == Pane::Trail {
            self.trail_news = 0;
        }
    }

    fn cycle_tab(&mut self, delta: isize) {
        match self.pane {
            Pane::Cluster => {
                let i = ClusterTab::ALL
                    .iter()
                    .position(|t| *t == self.cluster_tab)
                    .unwrap_or(0) as isize;
                let n = ClusterTab::ALL.len() as isize;
                self.cluster_tab = ClusterTab::ALL[(i + delta).rem_euclid(n) as usize];
            }
            Pane::Iam => {
                self.iam_tab = match self.iam_tab {
                    IamTab::Users => IamTab::Findings,
                    IamTab::Findings => IamTab::Users,
                }
            }
            _ => {}
        }
    }

    fn open(&mut self) {
        let table = self.current_table();
        if table == TableId::Overview {
            let row = self.view(table).selected_row();
            match row.and_then(|i| panes::overview_rows(&self.data).nth(i)) {
                Some(panes::OverviewRow::Area(area)) => {
                    let i = crate::model::summary::Area::ALL
                        .iter()
                        .position(|a| *a == area)
                        .unwrap_or(0);
                    self.go(Pane::ALL[i + 1]);
                }
                Some(panes::OverviewRow::Context(c)) => {
                    if let Some(name) = self.data.contexts.get(c).map(|c| c.context.clone()) {
                        self.use_context(name);
                    }
                }
                None => {}
            }
        } else if self.view(table).selected_row().is_some() {
            self.detail = Some(table);
            self.detail_scroll.top();
            if table == TableId::Alarms {
                self.fetch_history();
            }
            self.check_user();
            self.describe_selected();
        }
    }

    pub(super) fn select(&mut self, table: TableId, row: usize) {
        let view = self.view_mut(table);
        if let Some(pos) = view.visible.iter().position(|&i| i == row) {
            view.selected = pos;
        }
    }

    pub(super) fn set_filter(&mut self, table: TableId, filter: String) {
        let view = self.view_mut(table);
        view.filter = filter;
        view.selected = 0;
        self.refresh(table);
    }

    fn text_key(&mut self, ev: KeyEvent) {
        let table = self.current_table();
        match &mut self.input {
            Input::Idle => {}
            Input::Filter(field) => match ev.code {
                KeyCode::Esc => {
                    self.input = Input::Idle;
                    self.set_filter(table, String::new());
                }
                KeyCode::Enter => self.input = Input::Idle,
                _ => {
                    field.input(ev);
                    let text = field.lines().concat();
                    self.set_filter(table, text);
                }
            },
            Input::Command { field, completion } => match ev.code {
                KeyCode::Esc => self.input = Input::Idle,
                KeyCode::Enter => {
                    let line = field.lines().concat();
                    self.input = Input::Idle;
                    self.run_line(&line);
                }
                KeyCode::Tab => {
                    let line = field.lines().concat();
                    let contexts = super::cluster_scope::known_contexts(
                        &self.kube_contexts,
                        &self.data.contexts,
                    );
                    let namespaces: Vec<String> = self.data.namespaces.iter().cloned().collect();
                    let choices = commands::Choices {
                        themes: &self.themes.names(),
                        contexts: &contexts,
                        namespaces: &namespaces,
                    };
                    let done = commands::complete(&line, &choices);
                    if done.line != line {
                        *field = text_field();
                        field.insert_str(&done.line);
                    }
                    *completion = Some(done);
                }
                _ => {
                    field.input(ev);
                    *completion = None;
                }
            },
        }
    }

    fn run_line(&mut self, line: &str) {
        match commands::parse(line) {
            Ok(commands::Parsed::Quit) => self.quit = true,
            Ok(commands::Parsed::Help) => self.help = Some(0),
            Ok(commands::Parsed::Go(pane)) => self.go(pane),
            Ok(commands::Parsed::Cluster(tab)) => {
                self.cluster_tab = tab;
                self.go(Pane::Cluster);
            }
            Ok(commands::Parsed::Iam(tab)) => {
                self.iam_tab = tab;
                self.go(Pane::Iam);
            }
            Ok(commands::Parsed::Theme(name)) => match self.themes.load(&name) {
                Ok(theme) => {
                    self.message = Some((Level::Ok, format!("theme {name}")));
                    self.theme = theme;
                }
                Err(e) => self.message = Some((Level::Crit, e.to_string())),
            },
            Ok(commands::Parsed::NewIncident) => self.new_incident(),
            Ok(commands::Parsed::Note(text)) if text.is_empty() => self.note(),
            Ok(commands::Parsed::Note(text)) => {
                if self.data.incident.is_some() {
                    self.effects
                        .push(Effect::Record(crate::incident::event::Event::Note { text }));
                } else {
                    self.note();
                }
            }
            Ok(commands::Parsed::Service(name)) => self.tag_service(&name),
            Ok(commands::Parsed::Drill(name)) => self.effects.push(Effect::Drill(name)),
            Ok(commands::Parsed::Context(name)) => self.use_context(name),
            Ok(commands::Parsed::Namespace(namespace)) => self.use_namespace(namespace),
            Ok(commands::Parsed::Contexts) => self.show_contexts(),
            Ok(commands::Parsed::Trail(query)) => {
                self.go(Pane::Trail);
                self.set_filter(TableId::TrailEvents, query);
            }
            Ok(commands::Parsed::Logs { target, container }) => self.logs_named(&target, container),
            Ok(commands::Parsed::Merge) => self.merge(),
            Ok(commands::Parsed::Role(role)) => self.set_role(role, None),
            Ok(commands::Parsed::Handover(user)) => {
                self.set_role(crate::incident::event::Role::Commander, Some(user))
            }
            Ok(commands::Parsed::Nothing) => {}
            Err(msg) => self.message = Some((Level::Warn, msg)),
        }
    }
}

fn text_field() -> TextArea<'static> {
    let mut field = TextArea::default();
    field.set_cursor_line_style(ratatui::style::Style::default());
    field
}

#[cfg(test)]
#[path = "app_tests.rs"]
pub(super) mod tests;

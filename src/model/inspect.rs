//! What the console asks of a cluster about one object on demand: its log, its
//! describe-style detail, its YAML. The answers are fetched when asked, never watched.

use super::logs::LogBuffer;
use std::sync::{Arc, Mutex};
use tokio::sync::Notify;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ObjectKind {
    Pod,
    Node,
    Deployment,
}

impl ObjectKind {
    /// The kind as `involvedObject.kind` and `kubectl` name it.
    pub fn name(self) -> &'static str {
        match self {
            ObjectKind::Pod => "Pod",
            ObjectKind::Node => "Node",
            ObjectKind::Deployment => "Deployment",
        }
    }
}

/// One object; `namespace` is empty for nodes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectRef {
    pub kind: ObjectKind,
    pub namespace: String,
    pub name: String,
}

impl std::fmt::Display for ObjectRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = self.kind.name().to_lowercase();
        if self.namespace.is_empty() {
            write!(f, "{kind}/{}", self.name)
        } else {
            write!(f, "{kind} {}/{}", self.namespace, self.name)
        }
    }
}

/// The describe-style detail of one object: label, value pairs, or why it could not be read.
pub type Described = (ObjectRef, Result<Vec<(String, String)>, String>);

/// Whose log: one pod, or every pod of a Deployment merged with a pod prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogRequest {
    /// `Pod` or `Deployment`.
    pub object: ObjectRef,
    /// `None`: the pod's default container (every container, for a Deployment).
    pub container: Option<String>,
    /// The previous (crashed) instance of the container.
    pub previous: bool,
}

/// Where a log stream writes: the shared ring buffer, and the console to wake.
#[derive(Debug, Clone)]
pub struct LogSink {
    pub buffer: Arc<Mutex<LogBuffer>>,
    pub wake: Arc<Notify>,
}

impl LogSink {
    /// Reads the buffer without waking anyone.
    pub fn read<T>(&self, f: impl FnOnce(&LogBuffer) -> T) -> T {
        f(&self.buffer.lock().unwrap_or_else(|p| p.into_inner()))
    }

    /// Changes the buffer and wakes the console to show it.
    pub fn with<T>(&self, f: impl FnOnce(&mut LogBuffer) -> T) -> T {
        let out = f(&mut self.buffer.lock().unwrap_or_else(|p| p.into_inner()));
        self.wake.notify_one();
        out
    }
}

/// Keeps a log stream running; dropping it stops the stream.
pub type LogHandle = Box<dyn Send>;

/// The log view's buffer as effects carry it: equal when it is the same buffer.
#[derive(Debug, Clone)]
pub struct SharedLog(pub Arc<Mutex<LogBuffer>>);

impl PartialEq for SharedLog {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

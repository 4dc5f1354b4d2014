//! What the team journal needs from an object store: create-if-absent, put, get and an
//! ordered listing. S3 gives all four; the sync logic is written against this trait alone.

use jiff::Timestamp;
use std::future::Future;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Claim {
    /// The object did not exist and now holds our body.
    Created,
    /// Another writer holds the key (`412 Precondition Failed`).
    Taken,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed {
    pub key: String,
    pub modified: Timestamp,
}

/// A failed store call, worded for the header: `s3://bucket: connection refused`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct StoreError(pub String);

pub trait Store: Send + Sync {
    /// Writes `body` at `key` only if no object is there (`If-None-Match: *`).
    fn claim(
        &self,
        key: &str,
        body: Vec<u8>,
    ) -> impl Future<Output = Result<Claim, StoreError>> + Send;
    /// Writes `body` at `key`, replacing what is there (heartbeats).
    fn put(&self, key: &str, body: Vec<u8>) -> impl Future<Output = Result<(), StoreError>> + Send;
    fn get(&self, key: &str) -> impl Future<Output = Result<Vec<u8>, StoreError>> + Send;
    /// Every key under `prefix` that sorts after `after`, in key order (all pages).
    fn list(
        &self,
        prefix: &str,
        after: Option<&str>,
    ) -> impl Future<Output = Result<Vec<Listed>, StoreError>> + Send;
}

/// An in-memory store with S3's semantics, for the sync logic's unit tests; the S3 store is
/// tested against moto's real S3.
#[cfg(test)]
#[derive(Default)]
pub struct MemStore {
    pub objects: std::sync::Mutex<std::collections::BTreeMap<String, Vec<u8>>>,
    /// While set, every call fails as an unreachable endpoint would.
    pub down: std::sync::atomic::AtomicBool,
}

#[cfg(test)]
impl MemStore {
    fn up(
        &self,
    ) -> Result<std::sync::MutexGuard<'_, std::collections::BTreeMap<String, Vec<u8>>>, StoreError>
    {
        if self.down.load(std::sync::atomic::Ordering::SeqCst) {
            return Err(StoreError("connection refused".into()));
        }
        Ok(self.objects.lock().unwrap())
    }
}

#[cfg(test)]
impl Store for MemStore {
    async fn claim(&self, key: &str, body: Vec<u8>) -> Result<Claim, StoreError> {
        let mut objects = self.up()?;
        if objects.contains_key(key) {
            return Ok(Claim::Taken);
        }
        objects.insert(key.to_string(), body);
        Ok(Claim::Created)
    }

    async fn put(&self, key: &str, body: Vec<u8>) -> Result<(), StoreError> {
        self.up()?.insert(key.to_string(), body);
        Ok(())
    }

    async fn get(&self, key: &str) -> Result<Vec<u8>, StoreError> {
        self.up()?
            .get(key)
            .cloned()
            .ok_or_else(|| StoreError(format!("{key}: no such object")))
    }

    async fn list(&self, prefix: &str, after: Option<&str>) -> Result<Vec<Listed>, StoreError> {
        Ok(self
            .up()?
            .keys()
            .filter(|k| k.starts_with(prefix) && after.is_none_or(|a| k.as_str() > a))
            .map(|k| Listed {
                key: k.clone(),
                modified: Timestamp::now(),
            })
            .collect())
    }
}

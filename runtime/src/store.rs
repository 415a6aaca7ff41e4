//! Where sessions live between calls and between processes.

use std::collections::BTreeMap;
use std::fmt;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::secret::Secret;

/// What a store keeps for one chain.
///
/// `token` is `None` while a single-use token is out on the wire: a process
/// that dies mid-request must not resume with a token the server has
/// already consumed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StoredSession {
    /// The token to send next, if one is ready.
    pub token: Option<Secret>,
    /// When the token stops being accepted, if the login said.
    pub expires_at: Option<SystemTime>,
    /// The refresh token, if the login issued one and it is unspent.
    pub refresh_token: Option<Secret>,
}

/// Keeps the token in use and every rotated token, so a new client resumes
/// without a login.
///
/// Calls come from inside the client's per-chain lock, in the order the
/// tokens were issued, so an implementation needs no ordering logic of its
/// own; it should be quick (it runs once or twice per single-use request).
pub trait TokenStore: Send + Sync + 'static {
    /// The session saved for `chain`, if any.
    fn load(&self, chain: usize) -> io::Result<Option<StoredSession>>;
    /// Replaces what is saved for `chain`.
    fn save(&self, chain: usize, session: &StoredSession) -> io::Result<()>;

    /// Called when a client is built on this store: it becomes the store's
    /// one owner until [`TokenStore::release`]. Two clients on one store
    /// would each resume the same chain and send the same single-use token
    /// (`docs/faults.md`, F15), so the default refuses a second claim on the same
    /// store instance (shared through an `Arc`, say) with an error of kind
    /// `WouldBlock`; the client's `build` fails with it.
    ///
    /// Override both methods only for a store that keeps several clients'
    /// chains apart (or serializes them) itself: that is the sharing mode,
    /// and the guarantee is then the store's.
    fn claim(&self) -> io::Result<()> {
        owners::claim(std::ptr::from_ref(self).cast::<()>())
    }

    /// Ends the claim of [`TokenStore::claim`]; called when the client is
    /// gone, and with it every request still settling a token and every
    /// login still running (they may still save).
    fn release(&self) {
        owners::release(std::ptr::from_ref(self).cast::<()>());
    }
}

/// The store instances claimed by a live client, by address: an instance
/// cannot move or be freed while a client holds it (through an `Arc`), so
/// its address names it for exactly as long as the claim lasts.
mod owners {
    use std::collections::BTreeSet;
    use std::io;
    use std::sync::Mutex;

    static CLAIMED: Mutex<BTreeSet<usize>> = Mutex::new(BTreeSet::new());

    pub(super) fn claim(store: *const ()) -> io::Result<()> {
        if super::lock(&CLAIMED).insert(store.addr()) {
            Ok(())
        } else {
            Err(io::Error::new(
                io::ErrorKind::WouldBlock,
                "this token store is in use by another client; give each client its own store \
                 (two owners of one single-use chain would send the same token)",
            ))
        }
    }

    pub(super) fn release(store: *const ()) {
        super::lock(&CLAIMED).remove(&store.addr());
    }
}

/// The default store: process memory.
#[derive(Debug, Default)]
pub struct MemoryStore {
    chains: Mutex<BTreeMap<usize, StoredSession>>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        MemoryStore::default()
    }
}

impl TokenStore for MemoryStore {
    fn load(&self, chain: usize) -> io::Result<Option<StoredSession>> {
        Ok(lock(&self.chains).get(&chain).cloned())
    }

    fn save(&self, chain: usize, session: &StoredSession) -> io::Result<()> {
        lock(&self.chains).insert(chain, session.clone());
        Ok(())
    }
}

impl<S: TokenStore + ?Sized> TokenStore for std::sync::Arc<S> {
    fn load(&self, chain: usize) -> io::Result<Option<StoredSession>> {
        (**self).load(chain)
    }

    fn save(&self, chain: usize, session: &StoredSession) -> io::Result<()> {
        (**self).save(chain, session)
    }

    // The shared instance is the owner, however many `Arc`s point at it.
    fn claim(&self) -> io::Result<()> {
        (**self).claim()
    }

    fn release(&self) {
        (**self).release();
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panic elsewhere must not take the store down with it.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// A JSON file, replaced atomically (write a temporary file beside it, then
/// rename) and readable by the owner only (mode 0600 on Unix).
///
/// One owner at a time: on first use the store takes an exclusive lock on
/// `<path>.lock` and holds it until dropped. A second store on the same
/// file, in this process or another, gets an error instead of a copy of
/// the session: two owners of one single-use chain would each send the
/// same token (`docs/faults.md`, F15). Give each process its own file.
pub struct FileStore {
    path: PathBuf,
    cache: Mutex<Option<Owned>>,
}

/// What a store holds once it owns its file.
struct Owned {
    /// Held for the store's life; the OS releases the lock when it closes.
    _lock: std::fs::File,
    chains: BTreeMap<usize, FileChain>,
}

impl fmt::Debug for FileStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FileStore")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

#[derive(Serialize, Deserialize, Default)]
struct FileFormat {
    version: u32,
    chains: BTreeMap<usize, FileChain>,
}

#[derive(Clone, Serialize, Deserialize, Default)]
struct FileChain {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    token: Option<String>,
    /// Seconds since the Unix epoch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    expires_at: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    refresh_token: Option<String>,
}

impl FileStore {
    /// A store at `path`; the file is created on the first save.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        FileStore {
            path: path.into(),
            cache: Mutex::new(None),
        }
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Takes the lock, then reads the file: what it holds cannot change
    /// under us afterwards.
    fn own(&self) -> io::Result<Owned> {
        let mut name = self.path.as_os_str().to_owned();
        name.push(".lock");
        let lock_path = PathBuf::from(name);
        let mut opts = std::fs::OpenOptions::new();
        opts.read(true).write(true).create(true).truncate(false);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
        let lock = opts.open(&lock_path)?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                return Err(io::Error::new(
                    io::ErrorKind::WouldBlock,
                    format!(
                        "token store {} is in use by another client (this or another process); \
                         one store file per process",
                        self.path.display()
                    ),
                ));
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(e),
        }
        Ok(Owned {
            _lock: lock,
            chains: self.read()?,
        })
    }

    fn read(&self) -> io::Result<BTreeMap<usize, FileChain>> {
        match std::fs::read(&self.path) {
            Ok(bytes) => {
                let file: FileFormat = serde_json::from_slice(&bytes).map_err(|e| {
                    io::Error::new(
                        io::ErrorKind::InvalidData,
                        format!("{} is not a seamless token store: {e}", self.path.display()),
                    )
                })?;
                Ok(file.chains)
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(BTreeMap::new()),
            Err(e) => Err(e),
        }
    }

    fn write(&self, chains: &BTreeMap<usize, FileChain>) -> io::Result<()> {
        let body = serde_json::to_vec_pretty(&FileFormat {
            version: 1,
            chains: chains.clone(),
        })
        .map_err(io::Error::other)?;
        let dir = self
            .path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let name = self.path.file_name().unwrap_or_default().to_string_lossy();
        let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
        let mut opts = std::fs::OpenOptions::new();
        opts.write(true).create(true).truncate(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
        let mut f = opts.open(&tmp)?;
        f.write_all(&body)?;
        f.sync_data()?;
        drop(f);
        std::fs::rename(&tmp, &self.path)?;
        // The rename itself lives in the directory: until the directory is
        // synced, a power loss can bring back the previous file, whose
        // single-use token may already have been sent.
        #[cfg(unix)]
        std::fs::File::open(dir)?.sync_all()?;
        Ok(())
    }
}

impl TokenStore for FileStore {
    fn load(&self, chain: usize) -> io::Result<Option<StoredSession>> {
        let mut cache = lock(&self.cache);
        if cache.is_none() {
            *cache = Some(self.own()?);
        }
        let chains = &cache.as_ref().expect("filled above").chains;
        let Some(c) = chains.get(&chain) else {
            return Ok(None);
        };
        let expires_at = match c.expires_at {
            // Checked: a corrupt file must be an error, not an overflow panic.
            Some(s) => Some(UNIX_EPOCH.checked_add(Duration::from_secs(s)).ok_or_else(|| {
                io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!(
                        "{}: chain {chain}: `expires_at` is out of range",
                        self.path.display()
                    ),
                )
            })?),
            None => None,
        };
        Ok(Some(StoredSession {
            token: c.token.clone().map(Secret::from),
            expires_at,
            refresh_token: c.refresh_token.clone().map(Secret::from),
        }))
    }

    fn save(&self, chain: usize, session: &StoredSession) -> io::Result<()> {
        let mut cache = lock(&self.cache);
        if cache.is_none() {
            *cache = Some(self.own()?);
        }
        let chains = &mut cache.as_mut().expect("filled above").chains;
        chains.insert(
            chain,
            FileChain {
                token: session.token.as_ref().map(|t| t.expose().to_owned()),
                expires_at: session
                    .expires_at
                    .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
                    .map(|d| d.as_secs()),
                refresh_token: session.refresh_token.as_ref().map(|t| t.expose().to_owned()),
            },
        );
        self.write(chains)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_store_round_trips_with_owner_only_permissions() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tokens.json");
        let s = FileStore::new(&path);
        assert_eq!(s.load(0).unwrap(), None);
        let session = StoredSession {
            token: Some(Secret::new("t1")),
            expires_at: Some(UNIX_EPOCH + Duration::from_secs(2_000_000_000)),
            refresh_token: Some(Secret::new("r1")),
        };
        s.save(0, &session).unwrap();
        drop(s);
        let again = FileStore::new(&path);
        assert_eq!(again.load(0).unwrap(), Some(session));
        assert_eq!(again.load(1).unwrap(), None);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let mut left: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        left.sort();
        assert_eq!(
            left,
            ["tokens.json", "tokens.json.lock"],
            "a temporary file was left behind"
        );
    }

    #[test]
    fn a_second_owner_of_one_file_is_refused_until_the_first_is_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tokens.json");
        let first = FileStore::new(&path);
        first.load(0).unwrap();
        let second = FileStore::new(&path);
        let err = second.load(0).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::WouldBlock);
        assert!(err.to_string().contains("in use by another client"), "{err}");
        drop(first);
        assert_eq!(second.load(0).unwrap(), None);
    }

    #[test]
    fn every_save_is_on_disk_whole_when_it_returns_and_leaves_no_temporary_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tokens.json");
        let s = FileStore::new(&path);
        for i in 0..20 {
            let session = StoredSession {
                token: Some(Secret::new(format!("t{i}"))),
                expires_at: None,
                refresh_token: None,
            };
            s.save(i % 3, &session).unwrap();
            // Read behind the store's back: what a crash right now leaves.
            let on_disk: FileFormat = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
            let token = on_disk.chains[&(i % 3)].token.as_deref();
            assert_eq!(token, Some(format!("t{i}").as_str()));
            assert_eq!(
                std::fs::read_dir(dir.path()).unwrap().count(),
                2,
                "tokens.json and its lock only"
            );
        }
    }

    #[test]
    fn corrupt_file_is_an_error_not_an_empty_store() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tokens.json");
        std::fs::write(&path, b"not json").unwrap();
        let err = FileStore::new(&path).load(0).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
    }
}

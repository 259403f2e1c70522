use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, TryLockError};
use std::time::Duration;

use async_trait::async_trait;
use rusqlite::{ErrorCode, OpenFlags, OptionalExtension, params};
use time::OffsetDateTime;

use super::{
    BusinessRecord, ConnectionStore, CredentialStore, DueRefresh, Page, PendingAuthorization, PendingKind,
    PendingStore, SealedCredentials, StatusChange, StoreError, StoredCredentials,
};
use crate::connection::{Connection, ConnectionFilter, ConnectionStatus, ReasonCode, Tenant};
use crate::crypto::KeyId;
use crate::event::Event;
use crate::ids::{BusinessName, ConnectionId};

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS rc_schema (version INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS rc_businesses (
    name TEXT PRIMARY KEY,
    widget_id TEXT NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS rc_connections (
    id TEXT PRIMARY KEY,
    widget_id TEXT NOT NULL,
    business_name TEXT NOT NULL,
    service_name TEXT NOT NULL,
    tenant_id TEXT,
    tenant_name TEXT,
    status TEXT NOT NULL,
    status_reason TEXT,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS rc_connections_business ON rc_connections (business_name, created_at);
CREATE INDEX IF NOT EXISTS rc_connections_service ON rc_connections (service_name, created_at);
CREATE INDEX IF NOT EXISTS rc_connections_widget ON rc_connections (widget_id, created_at);
CREATE TABLE IF NOT EXISTS rc_credentials (
    connection_id TEXT PRIMARY KEY REFERENCES rc_connections (id),
    version INTEGER NOT NULL,
    blob BLOB NOT NULL,
    lease_owner TEXT,
    lease_until INTEGER
);
CREATE TABLE IF NOT EXISTS rc_pending (
    key TEXT PRIMARY KEY,
    expires_at INTEGER NOT NULL,
    record TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS rc_pending_expires ON rc_pending (expires_at);
";

/// Version 2: the credentials' key id and expiries beside the blob (indexed for the refresher
/// and the key-rotation sweep), and the pending record's kind as a column (taken atomically
/// with it). Pending records of version 1 are dropped: their sealed part has another shape,
/// and they live minutes.
const SCHEMA_V2: &str = "
ALTER TABLE rc_credentials ADD COLUMN key_id INTEGER NOT NULL DEFAULT 0;
ALTER TABLE rc_credentials ADD COLUMN access_expires_at INTEGER;
ALTER TABLE rc_credentials ADD COLUMN refresh_expires_at INTEGER;
CREATE INDEX rc_credentials_due ON rc_credentials (access_expires_at) WHERE access_expires_at IS NOT NULL;
CREATE INDEX rc_credentials_key ON rc_credentials (key_id, connection_id);
DELETE FROM rc_pending;
ALTER TABLE rc_pending ADD COLUMN kind TEXT NOT NULL DEFAULT '';
UPDATE rc_schema SET version = 2;
";

/// How long a statement waits for another connection's lock before failing with
/// [`StoreError::Backend`].
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// The embedded default store: one SQLite database file (WAL journal, `synchronous=FULL`, so
/// a committed write survives a crash and a torn one is rolled back).
///
/// Several processes may open the same file; SQLite serializes their writes. For several app
/// instances on several machines use a server database (PostgreSQL).
///
/// On unix a new database file is created readable and writable by its owner only (`0600`),
/// and SQLite gives its `-wal` and `-shm` files the same mode. An existing file that group or
/// others may access is opened with a warning (its mode is left alone).
///
/// Reads go through a second, read-only connection: in WAL mode readers never wait for the
/// writer, so a point read (a connection, a business, credentials) runs right on the calling
/// task when that connection is free, and on tokio's blocking pool otherwise. Listings and
/// writes run on the blocking pool (a write waits for `fsync`). Timestamps keep nanoseconds.
///
/// It has no outbox yet: the events a mutation carries are left to [`crate::Connect`]'s sinks.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    writer: Arc<Mutex<rusqlite::Connection>>,
    /// `None` for an in-memory database (`:memory:`), which a second connection cannot share.
    reader: Option<Arc<Mutex<rusqlite::Connection>>>,
    path: PathBuf,
}

fn nanos(t: OffsetDateTime) -> i64 {
    t.unix_timestamp_nanos() as i64
}

fn from_nanos(n: i64) -> rusqlite::Result<OffsetDateTime> {
    OffsetDateTime::from_unix_timestamp_nanos(n as i128)
        .map_err(|e| rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Integer, Box::new(e)))
}

fn corrupt(what: &str) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, format!("invalid {what}").into())
}

fn reason_str(r: ReasonCode) -> &'static str {
    r.as_str()
}

fn parse_reason(s: &str) -> rusqlite::Result<ReasonCode> {
    serde_json::from_value(serde_json::Value::String(s.to_owned())).map_err(|_| corrupt("status reason"))
}

const CONNECTION_COLUMNS: &str = "id, widget_id, business_name, service_name, tenant_id, tenant_name, status, status_reason, created_at, updated_at, expires_at";

fn row_to_connection(row: &rusqlite::Row<'_>) -> rusqlite::Result<Connection> {
    let id: String = row.get(0)?;
    let tenant_id: Option<String> = row.get(4)?;
    let tenant_name: Option<String> = row.get(5)?;
    let status: String = row.get(6)?;
    let reason: Option<String> = row.get(7)?;
    let tenant = match tenant_id {
        Some(id) => Some(Tenant::new(id.parse().map_err(|_| corrupt("tenant id"))?, tenant_name.unwrap_or_default())),
        None => None,
    };
    Ok(Connection::new(
        ConnectionId::parse(&id).map_err(|_| corrupt("connection id"))?,
        row.get::<_, String>(1)?.parse().map_err(|_| corrupt("widget id"))?,
        row.get::<_, String>(2)?.parse().map_err(|_| corrupt("business name"))?,
        row.get::<_, String>(3)?.parse().map_err(|_| corrupt("service name"))?,
        from_nanos(row.get(8)?)?,
    )
    .with_tenant(tenant)
    .with_status(
        ConnectionStatus::parse(&status).ok_or_else(|| corrupt("status"))?,
        reason.as_deref().map(parse_reason).transpose()?,
    )
    .with_updated_at(from_nanos(row.get(9)?)?)
    .with_expires_at(from_nanos(row.get(10)?)?))
}

fn get_connection(c: &rusqlite::Connection, id: &str) -> rusqlite::Result<Option<Connection>> {
    c.prepare_cached(&format!("SELECT {CONNECTION_COLUMNS} FROM rc_connections WHERE id = ?1"))?
        .query_row([id], row_to_connection)
        .optional()
}

fn lock(m: &Mutex<rusqlite::Connection>) -> MutexGuard<'_, rusqlite::Connection> {
    // A panic inside a statement leaves no transaction open (rusqlite rolls back on drop).
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

fn is_busy(e: &rusqlite::Error) -> bool {
    matches!(e.sqlite_error_code(), Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked))
}

/// Whether `path` names a file (not `:memory:`, a temporary database or a `file:` URI).
fn is_plain_file(path: &Path) -> bool {
    let s = path.as_os_str();
    !(s.is_empty() || s == ":memory:" || path.to_str().is_some_and(|p| p.starts_with("file:")))
}

/// Creates the database file owner-only before SQLite opens it (SQLite creates its `-wal` and
/// `-shm` files with the main file's mode); warns about an existing file open to others.
#[cfg(unix)]
fn prepare_file(path: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    match std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path) {
        // SQLite takes an empty file for a new database.
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            let mode = std::fs::metadata(path)?.permissions().mode() & 0o777;
            if mode & 0o077 != 0 {
                tracing::warn!(
                    path = %path.display(),
                    mode = format_args!("{mode:03o}"),
                    "the SQLite store's file is accessible to group or others; it holds encrypted \
                     credentials and connection metadata: consider `chmod 600` (and its -wal, -shm files)"
                );
            }
            Ok(())
        }
        Err(e) => Err(e),
    }
}

#[cfg(not(unix))]
fn prepare_file(_path: &Path) -> std::io::Result<()> {
    Ok(())
}

fn open_writer(path: &Path) -> rusqlite::Result<rusqlite::Connection> {
    let mut conn = rusqlite::Connection::open(path)?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    conn.execute_batch(SCHEMA)?;
    let has_version: bool = conn.query_row("SELECT EXISTS (SELECT 1 FROM rc_schema)", [], |r| r.get(0))?;
    if !has_version {
        conn.execute("INSERT INTO rc_schema (version) VALUES (1)", [])?;
    }
    let version: i64 = conn.query_row("SELECT version FROM rc_schema", [], |r| r.get(0))?;
    if version < 2 {
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        tx.execute_batch(SCHEMA_V2)?;
        // The key id of existing blobs, from their envelope header.
        let rows: Vec<(String, Vec<u8>)> = tx
            .prepare("SELECT connection_id, blob FROM rc_credentials")?
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<rusqlite::Result<_>>()?;
        for (id, blob) in rows {
            let key_id = crate::crypto::envelope_key_id(&blob).unwrap_or(0);
            tx.execute("UPDATE rc_credentials SET key_id = ?2 WHERE connection_id = ?1", params![id, key_id])?;
        }
        tx.commit()?;
        tracing::info!("the SQLite store's schema was upgraded to version 2");
    }
    Ok(conn)
}

/// The read-only connection. It waits for no lock when a read runs on the calling task
/// (`busy_timeout` 0: a busy database sends the read to the blocking pool instead).
fn open_reader(path: &Path) -> rusqlite::Result<rusqlite::Connection> {
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_URI | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = rusqlite::Connection::open_with_flags(path, flags)?;
    conn.busy_timeout(Duration::ZERO)?;
    Ok(conn)
}

impl SqliteStore {
    /// Opens (creating if needed) the database file at `path` and its schema. A new file is
    /// created owner-only (`0600`) on unix. `:memory:` opens a private in-memory database
    /// (for tests: it lives as long as this store).
    pub async fn open(path: impl AsRef<Path>) -> Result<Self, StoreError> {
        let path = path.as_ref().to_path_buf();
        let p = path.clone();
        let (writer, reader) = tokio::task::spawn_blocking(move || -> Result<_, StoreError> {
            let file = is_plain_file(&p);
            if file {
                prepare_file(&p).map_err(StoreError::backend)?;
            }
            let writer = open_writer(&p).map_err(StoreError::backend)?;
            let reader = if file { Some(open_reader(&p).map_err(StoreError::backend)?) } else { None };
            Ok((writer, reader))
        })
        .await
        .map_err(StoreError::backend)??;
        tracing::debug!(path = %path.display(), "opened SQLite store");
        Ok(Self { writer: Arc::new(Mutex::new(writer)), reader: reader.map(|r| Arc::new(Mutex::new(r))), path })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Runs a write on the blocking pool (it waits for the writer lock and `fsync`).
    async fn with<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut rusqlite::Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let conn = Arc::clone(&self.writer);
        // On a multi-threaded runtime the write (an fsync) runs in place: the runtime hands
        // this worker's other tasks to another thread meanwhile, and the write skips the
        // hop to the blocking pool, which cost as much as a third of the write itself. A
        // current-thread runtime cannot do that: there it goes to the blocking pool.
        let multi_thread = tokio::runtime::Handle::try_current()
            .is_ok_and(|h| h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread);
        if multi_thread {
            return tokio::task::block_in_place(move || f(&mut lock(&conn)));
        }
        tokio::task::spawn_blocking(move || f(&mut lock(&conn))).await.map_err(StoreError::backend)?
    }

    /// Runs a point read (one row by key) on the read-only connection: on the calling task
    /// when that connection is free (a WAL reader waits for nobody, and one row takes
    /// microseconds), on the blocking pool when it is busy with another read or the database
    /// is locked (recovery, a checkpoint that resets the WAL).
    async fn read<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: Fn(&rusqlite::Connection) -> rusqlite::Result<T> + Send + 'static,
    {
        let Some(reader) = &self.reader else {
            return self.with(move |c| f(c).map_err(db)).await;
        };
        let inline = match reader.try_lock() {
            Ok(conn) => Some(f(&conn)),
            Err(TryLockError::Poisoned(p)) => {
                // A read panicked on the blocking pool, maybe while it could wait: never wait here.
                let conn = p.into_inner();
                conn.busy_timeout(Duration::ZERO).map_err(db)?;
                Some(f(&conn))
            }
            Err(TryLockError::WouldBlock) => None,
        };
        match inline {
            Some(Err(e)) if is_busy(&e) => {}
            Some(done) => return done.map_err(db),
            None => {}
        }
        self.read_off_task(f).await
    }

    /// Runs a read of any size on the read-only connection on the blocking pool, where it may
    /// wait for a lock.
    async fn read_off_task<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&rusqlite::Connection) -> rusqlite::Result<T> + Send + 'static,
    {
        let Some(reader) = &self.reader else {
            return self.with(move |c| f(c).map_err(db)).await;
        };
        let reader = Arc::clone(reader);
        tokio::task::spawn_blocking(move || {
            let conn = lock(&reader);
            conn.busy_timeout(BUSY_TIMEOUT).map_err(db)?;
            let out = f(&conn);
            conn.busy_timeout(Duration::ZERO).map_err(db)?;
            out.map_err(db)
        })
        .await
        .map_err(StoreError::backend)?
    }
}

fn kind_str(kind: PendingKind) -> &'static str {
    match kind {
        PendingKind::Authorization => "authorization",
        PendingKind::TenantSelection => "tenantSelection",
    }
}

fn db(e: rusqlite::Error) -> StoreError {
    match e {
        rusqlite::Error::FromSqlConversionFailure(..) => StoreError::Corrupt(e.to_string()),
        e => StoreError::backend(e),
    }
}

#[async_trait]
impl ConnectionStore for SqliteStore {
    async fn reserve_business(&self, business: &BusinessRecord) -> Result<bool, StoreError> {
        let b = business.clone();
        self.with(move |c| {
            let n = c
                .prepare_cached(
                    "INSERT INTO rc_businesses (name, widget_id, created_at) VALUES (?1, ?2, ?3) ON CONFLICT (name) DO NOTHING",
                )
                .and_then(|mut s| s.execute(params![b.name.as_str(), b.widget_id.as_str(), nanos(b.created_at)]))
                .map_err(db)?;
            Ok(n == 1)
        })
        .await
    }

    async fn get_business(&self, name: &BusinessName) -> Result<Option<BusinessRecord>, StoreError> {
        let name = name.clone();
        self.read(move |c| {
            c.prepare_cached("SELECT widget_id, created_at FROM rc_businesses WHERE name = ?1")?
                .query_row([name.as_str()], |r| {
                    let widget_id = r.get::<_, String>(0)?.parse().map_err(|_| corrupt("widget id"))?;
                    Ok(BusinessRecord::new(name.clone(), widget_id, from_nanos(r.get(1)?)?))
                })
                .optional()
        })
        .await
    }

    async fn insert_connection(
        &self,
        connection: &Connection,
        credentials: &SealedCredentials,
        _events: &[Event],
    ) -> Result<(), StoreError> {
        let k = connection.clone();
        let cred = credentials.clone();
        self.with(move |c| {
            let tx = c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate).map_err(db)?;
            let id = k.id.to_string();
            let inserted = tx
                .prepare_cached(&format!("INSERT INTO rc_connections ({CONNECTION_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11) ON CONFLICT (id) DO NOTHING"))
                .and_then(|mut s| s.execute(
                    params![
                        id,
                        k.widget_id.as_str(),
                        k.business_name.as_str(),
                        k.service_name.as_str(),
                        k.tenant.as_ref().map(|t| t.id.as_str().to_owned()),
                        k.tenant.as_ref().map(|t| t.name.clone()),
                        k.status.as_str(),
                        k.status_reason.map(reason_str),
                        nanos(k.created_at),
                        nanos(k.updated_at),
                        nanos(k.expires_at),
                    ],
                ))
                .map_err(db)?;
            if inserted == 0 {
                return Err(StoreError::Conflict(format!("connection {id}")));
            }
            tx.prepare_cached(
                "INSERT INTO rc_credentials (connection_id, version, blob, key_id, access_expires_at, refresh_expires_at)
                 VALUES (?1, 1, ?2, ?3, ?4, ?5)",
            )
            .and_then(|mut s| {
                s.execute(params![
                    id,
                    cred.blob,
                    cred.key_id,
                    cred.access_expires_at.map(nanos),
                    cred.refresh_expires_at.map(nanos)
                ])
            })
            .map_err(db)?;
            tx.commit().map_err(db)
        })
        .await
    }

    async fn get_connection(&self, id: &ConnectionId) -> Result<Option<Connection>, StoreError> {
        let id = id.to_string();
        self.read(move |c| get_connection(c, &id)).await
    }

    async fn list_connections(&self, filter: &ConnectionFilter, page: &Page) -> Result<Vec<Connection>, StoreError> {
        let f = filter.clone();
        let page = *page;
        // A listing has no bound on its size: it stays off the task.
        self.read_off_task(move |c| {
            let mut stmt = c.prepare_cached(&format!(
                "SELECT {CONNECTION_COLUMNS} FROM rc_connections
                 WHERE (?1 IS NULL OR business_name = ?1) AND (?2 IS NULL OR service_name = ?2)
                   AND (?3 IS NULL OR status = ?3) AND (?4 IS NULL OR widget_id = ?4)
                   AND (?5 IS NULL OR created_at > ?5 OR (created_at = ?5 AND id > ?6))
                 ORDER BY created_at, id
                 LIMIT ?7"
            ))?;
            let rows = stmt.query_map(
                params![
                    f.business_name.as_ref().map(|b| b.as_str()),
                    f.service_name.as_ref().map(|s| s.as_str()),
                    f.status.map(|s| s.as_str()),
                    f.widget_id.as_ref().map(|w| w.as_str()),
                    page.after.map(|c| nanos(c.created_at)),
                    page.after.map(|c| c.id.to_string()),
                    page.limit as i64,
                ],
                row_to_connection,
            )?;
            rows.collect()
        })
        .await
    }

    async fn set_connection_status(
        &self,
        id: &ConnectionId,
        change: &StatusChange,
        _events: &[Event],
    ) -> Result<Option<Connection>, StoreError> {
        let id = id.to_string();
        let change = *change;
        self.with(move |c| {
            let tx = c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate).map_err(db)?;
            let n = tx
                .prepare_cached(
                    "UPDATE rc_connections SET status = ?3, status_reason = ?4, updated_at = ?5 WHERE id = ?1 AND status = ?2",
                )
                .and_then(|mut s| {
                    s.execute(params![
                        id,
                        change.expected.as_str(),
                        change.status.as_str(),
                        change.reason.map(reason_str),
                        nanos(change.at)
                    ])
                })
                .map_err(db)?;
            if n == 0 {
                return Ok(None);
            }
            let out = get_connection(&tx, &id).map_err(db)?;
            tx.commit().map_err(db)?;
            Ok(out)
        })
        .await
    }

    async fn disconnect(
        &self,
        id: &ConnectionId,
        reason: ReasonCode,
        at: OffsetDateTime,
        _events: &[Event],
    ) -> Result<Option<Connection>, StoreError> {
        let id = id.to_string();
        self.with(move |c| {
            let tx = c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate).map_err(db)?;
            let n = tx
                .prepare_cached(
                    "UPDATE rc_connections SET status = 'disconnected', status_reason = ?2, updated_at = ?3
                     WHERE id = ?1 AND status <> 'disconnected'",
                )
                .and_then(|mut s| s.execute(params![id, reason_str(reason), nanos(at)]))
                .map_err(db)?;
            if n == 0 {
                return Ok(None);
            }
            // The lease lives in the credentials row: it goes with it.
            tx.prepare_cached("DELETE FROM rc_credentials WHERE connection_id = ?1")
                .and_then(|mut s| s.execute([&id]))
                .map_err(db)?;
            let out = get_connection(&tx, &id).map_err(db)?;
            tx.commit().map_err(db)?;
            Ok(out)
        })
        .await
    }
}

#[async_trait]
impl CredentialStore for SqliteStore {
    async fn load_credentials(&self, id: &ConnectionId) -> Result<Option<StoredCredentials>, StoreError> {
        let id = id.to_string();
        self.read(move |c| {
            c.prepare_cached(
                "SELECT version, blob, key_id, access_expires_at, refresh_expires_at FROM rc_credentials WHERE connection_id = ?1",
            )?
            .query_row([&id], |r| {
                let sealed = SealedCredentials::new(r.get(1)?, r.get(2)?)
                    .with_access_expires_at(r.get::<_, Option<i64>>(3)?.map(from_nanos).transpose()?)
                    .with_refresh_expires_at(r.get::<_, Option<i64>>(4)?.map(from_nanos).transpose()?);
                Ok(StoredCredentials::new(r.get::<_, i64>(0)? as u64, sealed))
            })
            .optional()
        })
        .await
    }

    async fn replace_credentials(
        &self,
        id: &ConnectionId,
        expected_version: u64,
        credentials: &SealedCredentials,
        _events: &[Event],
    ) -> Result<Option<u64>, StoreError> {
        let id = id.to_string();
        let cred = credentials.clone();
        self.with(move |c| {
            let n = c
                .prepare_cached(
                    "UPDATE rc_credentials SET version = version + 1, blob = ?3, key_id = ?4, access_expires_at = ?5,
                     refresh_expires_at = ?6 WHERE connection_id = ?1 AND version = ?2",
                )
                .and_then(|mut s| {
                    s.execute(params![
                        id,
                        expected_version as i64,
                        cred.blob,
                        cred.key_id,
                        cred.access_expires_at.map(nanos),
                        cred.refresh_expires_at.map(nanos)
                    ])
                })
                .map_err(db)?;
            Ok((n == 1).then_some(expected_version + 1))
        })
        .await
    }

    async fn due_for_refresh(&self, before: OffsetDateTime, limit: usize) -> Result<Vec<DueRefresh>, StoreError> {
        self.read_off_task(move |c| {
            c.prepare_cached(
                "SELECT connection_id, access_expires_at FROM rc_credentials
                 WHERE access_expires_at IS NOT NULL AND access_expires_at < ?1
                 ORDER BY access_expires_at, connection_id LIMIT ?2",
            )?
            .query_map(params![nanos(before), limit as i64], |r| {
                let id = ConnectionId::parse(&r.get::<_, String>(0)?).map_err(|_| corrupt("connection id"))?;
                Ok(DueRefresh::new(id, from_nanos(r.get(1)?)?))
            })?
            .collect()
        })
        .await
    }

    async fn sealed_with_key(
        &self,
        key_id: KeyId,
        after: Option<ConnectionId>,
        limit: usize,
    ) -> Result<Vec<ConnectionId>, StoreError> {
        self.read_off_task(move |c| {
            c.prepare_cached(
                "SELECT connection_id FROM rc_credentials WHERE key_id = ?1 AND (?2 IS NULL OR connection_id > ?2)
                 ORDER BY connection_id LIMIT ?3",
            )?
            .query_map(params![key_id, after.map(|a| a.to_string()), limit as i64], |r| {
                ConnectionId::parse(&r.get::<_, String>(0)?).map_err(|_| corrupt("connection id"))
            })?
            .collect()
        })
        .await
    }

    async fn try_lease(
        &self,
        id: &ConnectionId,
        owner: &str,
        now: OffsetDateTime,
        until: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let id = id.to_string();
        let owner = owner.to_owned();
        self.with(move |c| {
            let n = c
                .prepare_cached(
                    "UPDATE rc_credentials SET lease_owner = ?2, lease_until = ?4
                     WHERE connection_id = ?1 AND (lease_owner IS NULL OR lease_owner = ?2 OR lease_until <= ?3)",
                )
                .and_then(|mut s| s.execute(params![id, owner, nanos(now), nanos(until)]))
                .map_err(db)?;
            Ok(n == 1)
        })
        .await
    }

    async fn release_lease(&self, id: &ConnectionId, owner: &str) -> Result<(), StoreError> {
        let id = id.to_string();
        let owner = owner.to_owned();
        self.with(move |c| {
            c.prepare_cached(
                "UPDATE rc_credentials SET lease_owner = NULL, lease_until = NULL WHERE connection_id = ?1 AND lease_owner = ?2",
            )
            .and_then(|mut s| s.execute(params![id, owner]))
            .map_err(db)?;
            Ok(())
        })
        .await
    }
}

#[async_trait]
impl PendingStore for SqliteStore {
    async fn insert_pending(&self, pending: &PendingAuthorization) -> Result<(), StoreError> {
        let key = pending.key.clone();
        let kind = kind_str(pending.kind);
        let expires = nanos(pending.expires_at);
        let record = serde_json::to_string(pending).map_err(StoreError::backend)?;
        self.with(move |c| {
            let n = c
                .prepare_cached(
                    "INSERT INTO rc_pending (key, kind, expires_at, record) VALUES (?1, ?2, ?3, ?4) ON CONFLICT (key) DO NOTHING",
                )
                .and_then(|mut s| s.execute(params![key, kind, expires, record]))
                .map_err(db)?;
            if n == 0 { Err(StoreError::Conflict("pending authorization".into())) } else { Ok(()) }
        })
        .await
    }

    async fn take_pending(&self, key: &str, kind: PendingKind) -> Result<Option<PendingAuthorization>, StoreError> {
        let key = key.to_owned();
        self.with(move |c| {
            let record: Option<String> = c
                .prepare_cached("DELETE FROM rc_pending WHERE key = ?1 AND kind = ?2 RETURNING record")
                .and_then(|mut s| s.query_row([key.as_str(), kind_str(kind)], |r| r.get(0)).optional())
                .map_err(db)?;
            record
                .map(|r| serde_json::from_str(&r).map_err(|e| StoreError::Corrupt(format!("pending record: {e}"))))
                .transpose()
        })
        .await
    }

    async fn purge_pending(&self, before: OffsetDateTime) -> Result<u64, StoreError> {
        self.with(move |c| {
            c.prepare_cached("DELETE FROM rc_pending WHERE expires_at < ?1")
                .and_then(|mut s| s.execute([nanos(before)]))
                .map(|n| n as u64)
                .map_err(db)
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::SqliteStore;
    use crate::connection::Connection;
    use crate::ids::{BusinessName, ConnectionId, ServiceName, WidgetId};
    use crate::store::{BusinessRecord, ConnectionStore, CredentialStore, PendingStore, SealedCredentials};

    fn a_connection() -> Connection {
        Connection::new(
            ConnectionId::new_random(),
            WidgetId::new("sqlite-tests").unwrap(),
            BusinessName::new("Sqlite Tests").unwrap(),
            ServiceName::new("xero").unwrap(),
            time::macros::datetime!(2026-01-01 00:00 UTC),
        )
    }

    fn sealed(blob: &[u8]) -> SealedCredentials {
        SealedCredentials::new(blob.to_vec(), 1)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn conformance() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(dir.path().join("c.db")).await.unwrap();
        super::super::conformance::run_all(Arc::new(store)).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn conformance_in_memory() {
        let store = SqliteStore::open(":memory:").await.unwrap();
        assert!(store.reader.is_none(), "an in-memory database has one connection");
        super::super::conformance::run_all(Arc::new(store)).await;
    }

    /// Two handles on one file (two "instances"): each sees the other's writes at once.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn reads_see_writes_of_every_connection() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("two.db");
        let (one, two) = (SqliteStore::open(&path).await.unwrap(), SqliteStore::open(&path).await.unwrap());
        let c = a_connection();
        one.insert_connection(&c, &sealed(b"v1"), &[]).await.unwrap();
        assert_eq!(two.load_credentials(&c.id).await.unwrap().unwrap().sealed.blob, b"v1");
        for v in 1..=20u64 {
            let (writer, reader) = if v % 2 == 0 { (&one, &two) } else { (&two, &one) };
            assert_eq!(
                writer.replace_credentials(&c.id, v, &sealed(&v.to_be_bytes()), &[]).await.unwrap(),
                Some(v + 1)
            );
            let got = reader.load_credentials(&c.id).await.unwrap().unwrap();
            assert_eq!((got.version, got.sealed.blob), (v + 1, v.to_be_bytes().to_vec()), "no stale snapshot");
            assert_eq!(writer.load_credentials(&c.id).await.unwrap().unwrap().version, v + 1);
        }
    }

    /// Polls a future once (it must be pending: its work waits for a lock held by the test).
    fn poll_once<F: Future>(f: std::pin::Pin<&mut F>) -> std::task::Poll<F::Output> {
        f.poll(&mut std::task::Context::from_waker(std::task::Waker::noop()))
    }

    /// A read finds the read-only connection busy (another read holds it) and runs on the
    /// blocking pool instead of blocking the task; it answers once the connection is free.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_read_waits_for_a_busy_reader_off_the_task() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(dir.path().join("busy.db")).await.unwrap();
        let c = a_connection();
        store.insert_connection(&c, &sealed(b"v1"), &[]).await.unwrap();
        let held = store.reader.as_ref().unwrap().lock().unwrap();
        let mut read = std::pin::pin!(store.load_credentials(&c.id));
        assert!(poll_once(read.as_mut()).is_pending(), "waits off the task, does not block it");
        drop(held);
        assert_eq!(read.await.unwrap().unwrap().sealed.blob, b"v1");
    }

    /// A read that meets a busy database (SQLite's `SQLITE_BUSY`: recovery, a checkpoint
    /// resetting the WAL) runs again on the blocking pool, where it waits for the lock; the
    /// inline attempt never waits.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_busy_read_runs_again_off_the_task_with_a_busy_timeout() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(dir.path().join("locked.db")).await.unwrap();
        let calls = Arc::new(AtomicUsize::new(0));
        let test_thread = std::thread::current().id();
        let seen = Arc::clone(&calls);
        let timeouts = store
            .read(move |c| {
                let timeout: i64 = c.query_row("PRAGMA busy_timeout", [], |r| r.get(0))?;
                let on_task = std::thread::current().id() == test_thread;
                if seen.fetch_add(1, Ordering::SeqCst) == 0 {
                    assert!(on_task, "the first attempt runs on the calling task");
                    return Err(rusqlite::Error::SqliteFailure(
                        rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_BUSY),
                        Some("database is locked".into()),
                    ));
                }
                assert!(!on_task, "the second runs on the blocking pool");
                Ok(timeout)
            })
            .await
            .unwrap();
        assert_eq!(calls.load(Ordering::SeqCst), 2);
        assert_eq!(timeouts, super::BUSY_TIMEOUT.as_millis() as i64, "the retry waits for the lock");
        let inline: i64 = store.read(|c| c.query_row("PRAGMA busy_timeout", [], |r| r.get(0))).await.unwrap();
        assert_eq!(inline, 0, "and the reader is back to never waiting");
    }

    #[cfg(unix)]
    fn mode(path: &std::path::Path) -> u32 {
        use std::os::unix::fs::PermissionsExt;
        std::fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[cfg(unix)]
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_new_database_and_its_wal_and_shm_files_are_owner_only() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("new.db");
        let store = SqliteStore::open(&path).await.unwrap();
        let c = a_connection();
        store.insert_connection(&c, &sealed(b"v1"), &[]).await.unwrap();
        store.replace_credentials(&c.id, 1, &sealed(b"v2"), &[]).await.unwrap();
        assert_eq!(store.load_credentials(&c.id).await.unwrap().unwrap().sealed.blob, b"v2");
        for suffix in ["", "-wal", "-shm"] {
            let file = dir.path().join(format!("new.db{suffix}"));
            assert!(file.exists(), "{} exists while the store is open", file.display());
            assert_eq!(mode(&file), 0o600, "{}", file.display());
        }
    }

    /// An existing file keeps its mode: the store warns and leaves it to the operator.
    #[cfg(unix)]
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_existing_database_keeps_its_mode() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("old.db");
        drop(SqliteStore::open(&path).await.unwrap());
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).unwrap();
        let store = SqliteStore::open(&path).await.unwrap();
        let rec = BusinessRecord::new(
            BusinessName::new("Old Ltd").unwrap(),
            WidgetId::new("w").unwrap(),
            time::OffsetDateTime::UNIX_EPOCH,
        );
        assert!(store.reserve_business(&rec).await.unwrap());
        assert_eq!(mode(&path), 0o640, "not changed behind the operator's back");
    }

    /// A version-1 file (written before the key id and expiries sat beside the blob) opens:
    /// each blob's key id is read from its envelope header, the expiries stay unknown until the
    /// next write, and the old pending records (another sealed shape) are dropped.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_version_1_file_is_upgraded() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v1.db");
        let c = a_connection();
        let mut blob = vec![1u8, 1, 0, 0, 0, 5];
        blob.extend_from_slice(&[0; 40]);
        {
            let raw = rusqlite::Connection::open(&path).unwrap();
            raw.execute_batch(super::SCHEMA).unwrap();
            raw.execute("INSERT INTO rc_schema (version) VALUES (1)", []).unwrap();
            raw.execute(
                &format!(
                    "INSERT INTO rc_connections ({}) VALUES (?1, 'w', 'Sqlite Tests', 'xero', NULL, NULL, 'active', NULL, 0, 0, 1)",
                    super::CONNECTION_COLUMNS
                ),
                [c.id.to_string()],
            )
            .unwrap();
            raw.execute(
                "INSERT INTO rc_credentials (connection_id, version, blob) VALUES (?1, 3, ?2)",
                rusqlite::params![c.id.to_string(), blob],
            )
            .unwrap();
            raw.execute("INSERT INTO rc_pending (key, expires_at, record) VALUES ('k', 0, '{}')", []).unwrap();
        }
        let store = SqliteStore::open(&path).await.unwrap();
        let stored = store.load_credentials(&c.id).await.unwrap().unwrap();
        assert_eq!((stored.version, stored.sealed.key_id, stored.sealed.access_expires_at), (3, 5, None));
        assert_eq!(stored.sealed.blob, blob);
        assert_eq!(store.sealed_with_key(5, None, 10).await.unwrap(), [c.id]);
        assert_eq!(
            store.purge_pending(time::macros::datetime!(2026-01-01 00:00 UTC)).await.unwrap(),
            0,
            "old pending records dropped"
        );
        drop(store);
        // Opening again does not upgrade twice.
        let again = SqliteStore::open(&path).await.unwrap();
        assert_eq!(again.load_credentials(&c.id).await.unwrap().unwrap().sealed.key_id, 5);
    }
}

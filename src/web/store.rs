//! The feed in IndexedDB: one layer, and one schema, for the worker and the page API.
//!
//! Every change is one readwrite transaction that reads, decides with [`crate::core::feed`]
//! and writes without leaving it: a request's success event resolves a promise whose
//! reaction resumes the Rust future in the same microtask checkpoint, so the transaction is
//! still active when the write goes out, and two changes of one entry never interleave
//! (IndexedDB runs overlapping readwrite transactions one after another). The records are
//! [`crate::core::record`]'s.

use alloc::rc::Rc;
use alloc::string::String;
use alloc::vec::Vec;
use core::cell::Cell;
use core::future::Future;

use js_sys::{Array, Promise};
use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{
    BroadcastChannel, DomException, IdbDatabase, IdbFactory, IdbKeyRange, IdbObjectStore,
    IdbObjectStoreParameters, IdbOpenDbRequest, IdbRequest, IdbTransaction, IdbTransactionMode,
    Window, WorkerGlobalScope,
};

use super::js::{object, promise_of};
use crate::core::feed::{arrive, counted_besides, tombstone_for, Arrival, FeedEntry};
use crate::core::json::{JsonRead, ObjectWriter};
use crate::core::record::{
    entry_of, record_of, tombstone_of, tombstone_record, BY_COUNT, BY_EXPIRY, BY_GROUP, BY_UNREAD,
    DATABASE, FEED, SETTINGS, TOMBSTONES, VERSION,
};
use crate::core::sync::StateChange;
use crate::core::{Millis, Notification};

/// The channel every context of the origin hears feed changes on (`onChanged`).
pub const CHANGES_CHANNEL: &str = "usernotify-feed";

/// Why the feed could not be read or changed; `code()` is the stable name pages see.
#[derive(Debug)]
pub enum StoreError {
    /// No IndexedDB, or the database could not be opened (blocked, private mode, a newer
    /// version's database).
    Unavailable(JsValue),
    /// The browser refused the write: the origin's storage quota is used up.
    QuotaExceeded(JsValue),
    /// No unexpired entry under that id.
    NotFound,
}

impl StoreError {
    pub fn code(&self) -> &'static str {
        match self {
            StoreError::Unavailable(_) => "storage-unavailable",
            StoreError::QuotaExceeded(_) => "quota-exceeded",
            StoreError::NotFound => "not-found",
        }
    }

    pub fn detail(&self) -> JsValue {
        match self {
            StoreError::Unavailable(detail) | StoreError::QuotaExceeded(detail) => detail.clone(),
            StoreError::NotFound => JsValue::UNDEFINED,
        }
    }

    /// Reports it to the developer console with its code.
    pub fn warn(&self) {
        super::js::warn(self.code(), &self.detail());
    }

    /// A failed request or transaction, by the `DOMException`'s name.
    pub fn of(error: JsValue) -> StoreError {
        let quota = error
            .dyn_ref::<DomException>()
            .is_some_and(|exception| exception.name() == "QuotaExceededError");
        match quota {
            true => StoreError::QuotaExceeded(error),
            false => StoreError::Unavailable(error),
        }
    }

    /// As the page API rejects with it: an `Error` named by its code.
    pub fn rejection(&self) -> JsValue {
        let message = match self {
            StoreError::NotFound => "no unexpired notification with this id",
            StoreError::QuotaExceeded(_) => "the origin's storage quota is used up",
            StoreError::Unavailable(_) => "the notification feed cannot be opened",
        };
        super::js::error(self.code(), message)
    }
}

impl From<StoreError> for JsValue {
    fn from(error: StoreError) -> JsValue {
        error.rejection()
    }
}

/// What a push did to the feed, for the worker to show.
pub struct Arrived {
    pub arrival: Arrival,
    /// The keys its group's notification counts besides it, oldest first (empty when
    /// ungrouped): [`counted_besides`].
    pub members: Vec<String>,
    /// Settles once the write is on disk (or failed); then every page hears of it.
    pub commit: Commit,
}

/// What a change made on another device did here.
pub enum Applied {
    /// The entry now has the change's state.
    Updated(Written),
    /// The entry was deleted (a tombstone keeps it so).
    Deleted(FeedEntry),
}

impl Applied {
    /// Tells every context of the origin; the entry it concerns.
    pub fn announce(&self) -> &FeedEntry {
        match self {
            Applied::Updated(written) => {
                written.announce();
                &written.entry
            }
            Applied::Deleted(entry) => {
                announce(Some(&entry.key), "deleted", None);
                entry
            }
        }
    }
}

/// An entry as a change wrote it.
pub struct Written {
    pub entry: FeedEntry,
    /// As stored (JSON text).
    record: String,
}

impl Written {
    /// Tells every context of the origin that this entry was updated.
    pub fn announce(&self) {
        announce(Some(&self.entry.key), "updated", Some(&self.record));
    }
}

/// The feed database of this origin, connected on first use. The connection closes when
/// another context upgrades or deletes the database (`versionchange`), so that it never
/// blocks that; the next change reconnects.
#[derive(Clone, Default)]
pub struct Feed {
    connection: Rc<Cell<Option<IdbDatabase>>>,
    /// The open under way, settling once it is done (into `connection`, or `failure`),
    /// awaited by everything that needs the feed meanwhile: a cold start's first push
    /// reads its feed and its settings at once, over one open.
    opening: Rc<Cell<Option<Promise>>>,
    /// Why the last open failed.
    failure: Rc<Cell<Option<JsValue>>>,
}

impl Feed {
    /// Connects to (and on first use creates) the feed database.
    pub async fn open() -> Result<Feed, StoreError> {
        let feed = Feed::default();
        feed.connected().await?;
        Ok(feed)
    }

    /// Takes over the connection the worker's shell began to open while the module loaded
    /// (`early` resolves to it, or to nothing where the database must be created or
    /// upgraded first); opens the database itself when that is not this schema's.
    pub fn adopt(&self, early: Promise) {
        self.opening.set(Some(self.connecting(Some(early))));
    }

    /// Opens the database, or adopts `early` when it is this schema's, into `connection`.
    fn connecting(&self, early: Option<Promise>) -> Promise {
        let (slot, failure) = (Rc::clone(&self.connection), Rc::clone(&self.failure));
        promise_of(Box::pin(async move {
            if let Some(database) = adoptable(early).await {
                watch_version_change(&database, &slot);
                return slot.set(Some(database));
            }
            match open_database(&slot).await {
                Ok(database) => slot.set(Some(database)),
                Err(error) => failure.set(Some(error.detail())),
            }
        }))
    }

    async fn connected(&self) -> Result<IdbDatabase, StoreError> {
        if let Some(database) = cloned(&self.connection) {
            return Ok(database);
        }
        let opening = cloned(&self.opening).unwrap_or_else(|| self.connecting(None));
        self.opening.set(Some(opening.clone()));
        let _ = JsFuture::from(opening).await;
        // Done with, whatever it gave: a failed open is tried again by the next caller.
        self.opening.set(None);
        cloned(&self.connection)
            .ok_or_else(|| StoreError::of(cloned(&self.failure).unwrap_or(JsValue::NULL)))
    }

    /// Stores a valid push unless it was deleted, and reads what its group counts, in one
    /// transaction: read and written before it is shown, and counted from the feed. Every
    /// read goes out at once (one round trip); the commit is left for the caller to await,
    /// so that the notification is shown while the transaction commits. What expired is
    /// left out, not purged (the worker purges after its events).
    pub async fn receive(
        &self,
        notification: &Notification,
        now: Millis,
    ) -> Result<Arrived, StoreError> {
        let writing = self.write().await?;
        let key = notification.key();
        let stored = read(writing.feed.get(&JsValue::from_str(&key)));
        let tombstone = read(writing.tombstones.get(&JsValue::from_str(&key)));
        let counted = match &notification.group_name {
            Some(group) => Some((
                writing.counted(group)?,
                writing.expired(&writing.feed, now)?,
            )),
            None => None,
        };
        let stored = entry_of(&stored.await?);
        let tombstone = tombstone_of(&tombstone.await?);
        let arrival = arrive(notification, stored.as_ref(), tombstone.as_ref(), now);
        let members = match counted {
            Some((counted, expired)) => {
                let counted = counted.await?.strings();
                let expired = expired.await?.strings();
                counted_besides(counted, &expired, &key, &arrival)
            }
            None => Vec::new(),
        };
        let announced = match arrival.written() {
            Some((entry, change_name)) => {
                let record = record_of(entry);
                request(writing.feed.put(&object(&record)))?;
                Some((key, change_name, record))
            }
            None => None,
        };
        let mut commit = writing.commit();
        commit.announce = announced;
        Ok(Arrived {
            arrival,
            members,
            commit,
        })
    }

    /// Applies `update` to each unexpired entry under `keys` in one transaction; returns
    /// the entries as written, once on disk. Missing and expired keys are skipped (a click
    /// on a purged notification).
    pub async fn update(
        &self,
        keys: &[String],
        now: Millis,
        update: impl Fn(&mut FeedEntry),
    ) -> Result<Vec<Written>, StoreError> {
        let writing = self.write().await?;
        let mut written = Vec::new();
        for key in keys {
            let stored = entry_of(&read(writing.feed.get(&JsValue::from_str(key))).await?);
            if let Some(mut entry) = stored.filter(|entry| !entry.is_expired(now)) {
                update(&mut entry);
                let record = record_of(&entry);
                request(writing.feed.put(&object(&record)))?;
                written.push(Written { entry, record });
            }
        }
        writing.commit().finished().await?;
        Ok(written)
    }

    /// Applies changes made on other devices (the change stream, a push's `changes`) in one
    /// transaction: each unexpired entry takes its change's state, or is deleted and leaves a
    /// tombstone. Returns what changed here, once on disk; the caller announces it. A change
    /// of an entry this feed does not have, or already has, changes nothing.
    pub async fn apply(
        &self,
        changes: &[StateChange],
        now: Millis,
    ) -> Result<Vec<Applied>, StoreError> {
        let transaction = self.write().await?;
        let mut applied = Vec::new();
        for change in changes {
            let key = JsValue::from_str(&change.id);
            let stored = entry_of(&read(transaction.feed.get(&key)).await?);
            let Some(mut entry) = stored.filter(|entry| !entry.is_expired(now)) else {
                continue;
            };
            if change.state.is_none() {
                let tombstone = object(&tombstone_record(&tombstone_for(&entry)));
                request(transaction.tombstones.put(&tombstone))?;
                request(transaction.feed.delete(&key))?;
                applied.push(Applied::Deleted(entry));
            } else if change.apply(&mut entry) {
                let record = record_of(&entry);
                request(transaction.feed.put(&object(&record)))?;
                applied.push(Applied::Updated(Written { entry, record }));
            }
        }
        transaction.commit().finished().await?;
        Ok(applied)
    }

    /// Deletes the entry under `key` and leaves a tombstone until its expiry; the caller
    /// announces it.
    pub async fn delete(&self, key: &str, now: Millis) -> Result<FeedEntry, StoreError> {
        let writing = self.write().await?;
        let stored = entry_of(&read(writing.feed.get(&JsValue::from_str(key))).await?);
        let entry = stored
            .filter(|entry| !entry.is_expired(now))
            .ok_or(StoreError::NotFound)?;
        let tombstone = object(&tombstone_record(&tombstone_for(&entry)));
        request(writing.tombstones.put(&tombstone))?;
        request(writing.feed.delete(&JsValue::from_str(key)))?;
        writing.commit().finished().await?;
        Ok(entry)
    }

    /// The entries of `group`, or the entry under `key` itself when ungrouped (none once
    /// deleted), expired ones included: read only, so that it never holds up a push.
    pub async fn around(
        &self,
        key: &str,
        group: Option<&str>,
    ) -> Result<Vec<FeedEntry>, StoreError> {
        let feed = self.reading(FEED).await?;
        let records = match group {
            Some(group) => {
                let index = feed.index(BY_GROUP).map_err(StoreError::of)?;
                read(index.get_all_with_key(&JsValue::from_str(group))).await?
            }
            None => read(feed.get_all_with_key(&JsValue::from_str(key))).await?,
        };
        Ok(entries(&records))
    }

    /// How many unexpired entries are unread and not dismissed (the app badge), counted
    /// from an index without reading a record.
    pub async fn unread(&self, now: Millis) -> Result<u32, StoreError> {
        let index = self
            .reading(FEED)
            .await?
            .index(BY_UNREAD)
            .map_err(StoreError::of)?;
        let counted = JsValue::from_f64(1.0);
        // From just after `[1, now]` (expired at its instant) to `[1, []]`: an array sorts
        // after every number.
        let range = IdbKeyRange::bound_with_lower_open_and_upper_open(
            &Array::of2(&counted, &JsValue::from_f64(now as f64)),
            &Array::of2(&counted, &Array::new()),
            true,
            false,
        )
        .map_err(StoreError::Unavailable)?;
        let count = read(index.count_with_key(&range)).await?;
        Ok(count.as_f64().unwrap_or_default() as u32)
    }

    /// Every stored entry, expired ones included (the caller filters them): a readonly
    /// transaction, so that pages reading the feed never hold up the worker's writes.
    pub async fn all(&self) -> Result<Vec<FeedEntry>, StoreError> {
        let feed = self.reading(FEED).await?;
        Ok(entries(&read(feed.get_all()).await?))
    }

    /// Removes expired entries and tombstones; returns how many entries went, after telling
    /// every page when any did.
    pub async fn purge(&self, now: Millis) -> Result<usize, StoreError> {
        let writing = self.write().await?;
        let entries = writing.expired(&writing.feed, now)?;
        let tombstones = writing.expired(&writing.tombstones, now)?;
        let entries = Array::from(&entries.await?);
        for key in entries.iter() {
            request(writing.feed.delete(&key))?;
        }
        for key in Array::from(&tombstones.await?).iter() {
            request(writing.tombstones.delete(&key))?;
        }
        writing.commit().finished().await?;
        let purged = entries.length() as usize;
        if purged > 0 {
            announce(None, "purged", None);
        }
        Ok(purged)
    }

    /// The setting under `name` (a JSON-like value), or `undefined`.
    pub async fn setting(&self, name: &str) -> Result<JsValue, StoreError> {
        let store = self.settings(IdbTransactionMode::Readonly).await?;
        read(store.get(&JsValue::from_str(name))).await
    }

    /// Writes (or, with `None`, removes) the setting under `name`.
    pub async fn set_setting(&self, name: &str, value: Option<&JsValue>) -> Result<(), StoreError> {
        let store = self.settings(IdbTransactionMode::Readwrite).await?;
        let key = JsValue::from_str(name);
        let written = match value {
            Some(value) => store.put_with_key(value, &key),
            None => store.delete(&key),
        };
        read(written).await.map(|_| ())
    }

    /// Appends `value` to the list kept under `name`, in one transaction.
    pub async fn append_setting(&self, name: &str, value: &JsValue) -> Result<(), StoreError> {
        let store = self.settings(IdbTransactionMode::Readwrite).await?;
        let key = JsValue::from_str(name);
        let list = read(store.get(&key)).await?;
        let list = match Array::is_array(&list) {
            true => Array::from(&list),
            false => Array::new(),
        };
        list.push(value);
        read(store.put_with_key(&list, &key)).await.map(|_| ())
    }

    async fn settings(&self, mode: IdbTransactionMode) -> Result<IdbObjectStore, StoreError> {
        let transaction = self.transaction(&[SETTINGS], mode).await?;
        transaction.object_store(SETTINGS).map_err(StoreError::of)
    }

    /// One store in a readonly transaction.
    async fn reading(&self, store: &str) -> Result<IdbObjectStore, StoreError> {
        let transaction = self
            .transaction(&[store], IdbTransactionMode::Readonly)
            .await?;
        transaction.object_store(store).map_err(StoreError::of)
    }

    /// A readwrite transaction over the feed and its tombstones.
    async fn write(&self) -> Result<FeedWrite, StoreError> {
        let transaction = self
            .transaction(&[FEED, TOMBSTONES], IdbTransactionMode::Readwrite)
            .await?;
        FeedWrite::begin(transaction)
    }

    /// A transaction over `stores`; reconnects once when the connection was closed by a
    /// `versionchange`.
    async fn transaction(
        &self,
        stores: &[&str],
        mode: IdbTransactionMode,
    ) -> Result<IdbTransaction, StoreError> {
        let names: Array = stores.iter().map(|name| JsValue::from_str(name)).collect();
        let begin = |database: IdbDatabase| {
            database
                .transaction_with_str_sequence_and_mode(&names, mode)
                .map_err(StoreError::of)
        };
        match begin(self.connected().await?) {
            Ok(transaction) => Ok(transaction),
            Err(_) => {
                self.connection.set(None);
                begin(self.connected().await?)
            }
        }
    }
}

/// The origin's IndexedDB, in a window or a worker alike; `None` where there is none
/// (private modes, storage-blocking policies).
fn factory() -> Option<IdbFactory> {
    let global = js_sys::global();
    let factory = match global.dyn_ref::<WorkerGlobalScope>() {
        Some(worker) => worker.indexed_db(),
        None => global.unchecked_ref::<Window>().indexed_db(),
    };
    factory.ok().flatten()
}

/// Opens the database, creating its stores on first use. The connection closes itself on
/// `versionchange` and leaves `slot` empty, so that the next call reconnects.
async fn open_database(slot: &Rc<Cell<Option<IdbDatabase>>>) -> Result<IdbDatabase, StoreError> {
    let factory =
        factory().ok_or_else(|| StoreError::Unavailable(JsValue::from_str("no IndexedDB")))?;
    let request = factory
        .open_with_u32(DATABASE, VERSION)
        .map_err(StoreError::Unavailable)?;
    // One promise for the first of upgradeneeded, success, error and blocked: an upgrade
    // must create the stores inside its own event, before success can fire.
    let first = Promise::new(&mut |resolve, reject| {
        request.set_onupgradeneeded(Some(&resolve));
        request.set_onsuccess(Some(&resolve));
        request.set_onerror(Some(&reject));
        request.set_onblocked(Some(&reject));
    });
    let failed = |request: &IdbOpenDbRequest| StoreError::of(request_error(request));
    let event = JsFuture::from(first).await.map_err(|_| failed(&request))?;
    let upgrading = event
        .dyn_ref::<web_sys::Event>()
        .is_some_and(|event| event.type_() == "upgradeneeded");
    if upgrading {
        let database: IdbDatabase = request
            .result()
            .map_err(StoreError::Unavailable)?
            .unchecked_into();
        let upgrade = request
            .transaction()
            .ok_or_else(|| StoreError::Unavailable(JsValue::NULL))?;
        create_schema(&database, &upgrade).map_err(StoreError::Unavailable)?;
        JsFuture::from(completion(&request))
            .await
            .map_err(|_| failed(&request))?;
    }
    let database: IdbDatabase = request
        .result()
        .map_err(StoreError::Unavailable)?
        .unchecked_into();
    watch_version_change(&database, slot);
    Ok(database)
}

/// What `cell` holds, left in it: taken out and put back, since a `Cell` never panics where
/// a `RefCell` borrow could. Inlined: as a call per type it cost the worker 17 bytes gzip.
#[inline(always)]
fn cloned<T: Clone>(cell: &Cell<Option<T>>) -> Option<T> {
    let value = cell.take();
    cell.set(value.clone());
    value
}

/// The connection the worker's shell opened early, when it is this schema's; closed when
/// it is not.
async fn adoptable(early: Option<Promise>) -> Option<IdbDatabase> {
    let database: IdbDatabase = JsFuture::from(early?).await.ok()?.dyn_into().ok()?;
    if database.name() == DATABASE && database.version() == f64::from(VERSION) {
        return Some(database);
    }
    database.close();
    None
}

/// Closes the connection on `versionchange` and leaves `slot` empty.
fn watch_version_change(database: &IdbDatabase, slot: &Rc<Cell<Option<IdbDatabase>>>) {
    let closing = database.clone();
    let slot = Rc::clone(slot);
    let on_version_change = Closure::<dyn FnMut()>::new(move || {
        closing.close();
        slot.set(None);
    });
    database.set_onversionchange(Some(on_version_change.into_js_value().unchecked_ref()));
}

/// The schema, version 3 (2 added `settings`, 3 the `unread` index): an upgrade, in its
/// own transaction (`upgrade`), creates whatever is missing. Entries are by `id`, indexed by
/// expiry (purge), group (a group's entries), `[groupName, counted, created]` (the keys a
/// group's notification counts, in arrival order, without reading the records) and
/// `[counted, expires]` (the app badge's count); tombstones by `id`, indexed by expiry.
fn create_schema(database: &IdbDatabase, upgrade: &IdbTransaction) -> Result<(), JsValue> {
    let names = database.object_store_names();
    let keys =
        |names: &[&str]| -> Array { names.iter().map(|name| JsValue::from_str(name)).collect() };
    if !names.contains(SETTINGS) {
        database.create_object_store(SETTINGS)?;
    }
    if !names.contains(FEED) {
        let by_id = IdbObjectStoreParameters::new();
        by_id.set_key_path(&JsValue::from_str("id"));
        let feed = database.create_object_store_with_optional_parameters(FEED, &by_id)?;
        feed.create_index_with_str(BY_EXPIRY, BY_EXPIRY)?;
        feed.create_index_with_str(BY_GROUP, BY_GROUP)?;
        feed.create_index_with_str_sequence(BY_COUNT, &keys(&[BY_GROUP, BY_COUNT, "created"]))?;
        let tombstones =
            database.create_object_store_with_optional_parameters(TOMBSTONES, &by_id)?;
        tombstones.create_index_with_str(BY_EXPIRY, BY_EXPIRY)?;
    }
    let feed = upgrade.object_store(FEED)?;
    if !feed.index_names().contains(BY_UNREAD) {
        feed.create_index_with_str_sequence(BY_UNREAD, &keys(&[BY_COUNT, BY_EXPIRY]))?;
    }
    Ok(())
}

/// Tells every context of the origin that the feed changed: `{id, change, record}`, where
/// `change` is `added`, `updated`, `deleted` or `purged` (with no id), and `record` the
/// entry as stored (JSON text) after an add or update, so that a page applies the change
/// without reading the feed again.
pub fn announce(key: Option<&str>, change: &str, record: Option<&str>) {
    let mut message = ObjectWriter::default()
        .opt_str("id", key)
        .str("change", change);
    if let Some(record) = record {
        message = message.raw("record", record);
    }
    let message = object(&message.end());
    if let Ok(channel) = BroadcastChannel::new(CHANGES_CHANNEL) {
        let _ = channel.post_message(&message);
        channel.close();
    }
}

/// One readwrite transaction in progress.
struct FeedWrite {
    transaction: IdbTransaction,
    feed: IdbObjectStore,
    tombstones: IdbObjectStore,
}

impl FeedWrite {
    fn begin(transaction: IdbTransaction) -> Result<FeedWrite, StoreError> {
        let store = |name| transaction.object_store(name).map_err(StoreError::of);
        Ok(FeedWrite {
            feed: store(FEED)?,
            tombstones: store(TOMBSTONES)?,
            transaction,
        })
    }

    /// The keys `group`'s notification counts, oldest first, asked for now.
    fn counted(
        &self,
        group: &str,
    ) -> Result<impl Future<Output = Result<JsValue, StoreError>>, StoreError> {
        let lower = Array::of2(&JsValue::from_str(group), &JsValue::from_f64(1.0));
        // An empty array sorts after every number: every `created` of the group.
        let upper = Array::of3(
            &JsValue::from_str(group),
            &JsValue::from_f64(1.0),
            &Array::new(),
        );
        let range = IdbKeyRange::bound(&lower, &upper).map_err(StoreError::Unavailable)?;
        let index = self.feed.index(BY_COUNT).map_err(StoreError::of)?;
        Ok(read(index.get_all_keys_with_key(&range)))
    }

    /// The keys in `store` that expired at `now`, asked for now.
    fn expired(
        &self,
        store: &IdbObjectStore,
        now: Millis,
    ) -> Result<impl Future<Output = Result<JsValue, StoreError>>, StoreError> {
        let range = IdbKeyRange::upper_bound(&JsValue::from_f64(now as f64))
            .map_err(StoreError::Unavailable)?;
        let index = store.index(BY_EXPIRY).map_err(StoreError::of)?;
        Ok(read(index.get_all_keys_with_key(&range)))
    }

    /// The transaction's commit, watched from now: the caller may await it after other work.
    fn commit(self) -> Commit {
        let transaction = self.transaction;
        let done = Promise::new(&mut |resolve, reject| {
            transaction.set_oncomplete(Some(&resolve));
            transaction.set_onerror(Some(&reject));
            transaction.set_onabort(Some(&reject));
        });
        Commit {
            done: JsFuture::from(done),
            transaction,
            announce: None,
        }
    }
}

/// A feed transaction whose requests are all issued, committing.
pub struct Commit {
    done: JsFuture,
    transaction: IdbTransaction,
    /// What every page hears once it is on disk: the key, the change and the record.
    announce: Option<(String, &'static str, String)>,
}

impl Commit {
    /// Settles once everything is on disk; a failure (quota) is the transaction's error.
    /// Then every page hears what changed.
    pub async fn finished(self) -> Result<(), StoreError> {
        if self.done.await.is_err() {
            let error = self
                .transaction
                .error()
                .map_or(JsValue::NULL, JsValue::from);
            return Err(StoreError::of(error));
        }
        if let Some((key, change, record)) = self.announce {
            announce(Some(&key), change, Some(&record));
        }
        Ok(())
    }
}

/// A queued request whose result is not needed: only a synchronous throw is an error here
/// (a later failure aborts the transaction, which its commit reports).
fn request(call: Result<IdbRequest, JsValue>) -> Result<(), StoreError> {
    call.map(|_| ()).map_err(StoreError::of)
}

/// A request's result, once it succeeded. The handlers are set as it is issued, so that
/// requests issued together are answered in one round trip and awaited in turn.
fn read(call: Result<IdbRequest, JsValue>) -> impl Future<Output = Result<JsValue, StoreError>> {
    let issued = call.map(|request| (JsFuture::from(completion(&request)), request));
    async move {
        let (done, request) = issued.map_err(StoreError::of)?;
        match done.await {
            Ok(_) => request.result().map_err(StoreError::of),
            Err(_) => Err(StoreError::of(request_error(&request))),
        }
    }
}

/// Settles with the request: fulfilled on success, rejected on error.
fn completion(request: &IdbRequest) -> Promise {
    Promise::new(&mut |resolve, reject| {
        request.set_onsuccess(Some(&resolve));
        request.set_onerror(Some(&reject));
    })
}

fn request_error(request: &IdbRequest) -> JsValue {
    request
        .error()
        .ok()
        .flatten()
        .map_or(JsValue::NULL, JsValue::from)
}

/// Stored records back as entries; anything that is not one is left out.
fn entries(records: &JsValue) -> Vec<FeedEntry> {
    records.items().iter().filter_map(entry_of).collect()
}

//! The feed in IndexedDB, as the page API reads and changes it. (The worker's shell keeps
//! the same database, `www/sw.js`; the records are [`crate::core::record`]'s for both.)
//!
//! Every change is one readwrite transaction that reads, decides with [`crate::core::feed`]
//! and writes without leaving it: the requests' success events resume the Rust future in
//! the same microtask checkpoint, so the transaction stays active across those awaits and
//! two changes of one entry can never interleave (IndexedDB runs overlapping readwrite
//! transactions one after another). Deletes and reads around a change purge what expired
//! in the same transaction.

use alloc::rc::Rc;
use alloc::string::String;
use alloc::vec::Vec;
use core::cell::Cell;
use core::future::Future;

use super::task::{settled, Settled};
use js_sys::{Array, Function, Object, Promise};
use wasm_bindgen::prelude::wasm_bindgen;
use wasm_bindgen::{JsCast, JsValue};
use web_sys::{BroadcastChannel, IdbDatabase, IdbKeyRange, IdbObjectStore, IdbRequest};

use super::js::{get, get_string, global, set};
use crate::core::feed::{tombstone_for, FeedEntry};
use crate::core::json::Json;
use crate::core::record::{
    entry_of, record_of as record_text, tombstone_record, BY_COUNT, BY_EXPIRY, BY_GROUP, DATABASE,
    FEED, SETTINGS, TOMBSTONES, VERSION,
};
use crate::core::Millis;

/// The channel every context of the origin hears feed changes on (`onChanged`).
pub const CHANGES_CHANNEL: &str = "usernotify-feed";

#[wasm_bindgen]
extern "C" {
    /// An `IDBDatabase`, for the one call bound here rather than through web-sys.
    type Database;

    /// `db.transaction(names, mode)` with the mode as a plain string: no enum conversion
    /// code in the module.
    #[wasm_bindgen(method, catch, js_name = transaction)]
    fn transaction_of(
        this: &Database,
        names: &Array,
        mode: &str,
    ) -> Result<web_sys::IdbTransaction, JsValue>;
}

/// Why the feed could not be read or changed; `code()` is the stable name pages see.
#[derive(Debug)]
pub enum StoreError {
    /// No IndexedDB, or the database could not be opened (blocked, private mode, corrupt).
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

    /// A failed request or transaction, by the DOMException's name.
    fn from_dom(error: JsValue) -> StoreError {
        match get_string(&error, "name").as_deref() {
            Some("QuotaExceededError") => StoreError::QuotaExceeded(error),
            _ => StoreError::Unavailable(error),
        }
    }
}

/// The feed database of this origin, connected on first use. The connection closes when
/// another context upgrades or deletes the database (`versionchange`), so that it is never
/// blocked by this one; the next change reconnects.
#[derive(Clone, Default)]
pub struct Feed {
    connection: Rc<Cell<Option<IdbDatabase>>>,
}

impl Feed {
    /// Connects to (and on first use creates) the feed database.
    pub async fn open() -> Result<Feed, StoreError> {
        let feed = Feed::default();
        feed.connected().await?;
        Ok(feed)
    }

    async fn connected(&self) -> Result<IdbDatabase, StoreError> {
        // Taken out and put back: a `Cell` never panics, where a `RefCell` borrow could.
        let open = self.connection.take();
        self.connection.set(open.clone());
        if let Some(database) = open {
            return Ok(database);
        }
        let database = open_database().await?;
        self.connection.set(Some(database.clone()));
        Ok(database)
    }

    /// Applies `update` to each unexpired entry under `keys` in one transaction; returns
    /// the entries as written. Missing and expired keys are skipped. It does not purge:
    /// pages purge on `open()`, and the worker after its events.
    pub async fn update(
        &self,
        keys: &[String],
        now: Millis,
        update: impl Fn(&mut FeedEntry),
    ) -> Result<Vec<FeedEntry>, StoreError> {
        let change = self.change().await?;
        let mut written = Vec::new();
        for key in keys {
            let stored = change.entry(key).await?;
            if let Some(mut entry) = stored.filter(|entry| !entry.is_expired(now)) {
                update(&mut entry);
                change.put(&entry)?;
                written.push(entry);
            }
        }
        change.commit().finished().await?;
        Ok(written)
    }

    /// Deletes the entry under `key` and leaves a tombstone until its expiry.
    pub async fn delete(&self, key: &str, now: Millis) -> Result<FeedEntry, StoreError> {
        let change = self.change().await?;
        change.purge(now).await?;
        let entry = change.entry(key).await?.ok_or(StoreError::NotFound)?;
        let tombstone = js_sys::JSON::parse(&tombstone_record(&tombstone_for(&entry)))
            .map_err(StoreError::Unavailable)?;
        request(change.tombstones.put(&tombstone))?;
        request(change.feed.delete(&JsValue::from_str(key)))?;
        change.commit().finished().await?;
        Ok(entry)
    }

    /// Every stored entry, expired ones included (the caller filters them): a readonly
    /// transaction, so that pages reading the feed never hold up the worker's writes.
    pub async fn all(&self) -> Result<Vec<FeedEntry>, StoreError> {
        let reading = Change::begin(self.transaction(&feed_stores(), "readonly").await?)?;
        let all = read(reading.feed.get_all()).await?;
        Ok(entries_from_js(&all))
    }

    /// The setting under `name`, or `undefined`.
    pub async fn setting(&self, name: &str) -> Result<JsValue, StoreError> {
        let store = self.settings("readonly").await?;
        read(store.get(&JsValue::from_str(name))).await
    }

    /// Writes (or, with `undefined`, removes) the setting under `name`.
    pub async fn set_setting(&self, name: &str, value: &JsValue) -> Result<(), StoreError> {
        let store = self.settings("readwrite").await?;
        let key = JsValue::from_str(name);
        let written = if value.is_undefined() {
            store.delete(&key)
        } else {
            store.put_with_key(value, &key)
        };
        read(written).await.map(|_| ())
    }

    /// Appends `value` to the list kept under `name`, in one transaction.
    pub async fn append_setting(&self, name: &str, value: &JsValue) -> Result<(), StoreError> {
        let store = self.settings("readwrite").await?;
        let key = JsValue::from_str(name);
        let list = read(store.get(&key)).await?;
        let list = if Array::is_array(&list) {
            Array::from(&list)
        } else {
            Array::new()
        };
        list.push(value);
        read(store.put_with_key(&list, &key)).await.map(|_| ())
    }

    async fn settings(&self, mode: &str) -> Result<IdbObjectStore, StoreError> {
        self.transaction(&Array::of1(&JsValue::from_str(SETTINGS)), mode)
            .await?
            .object_store(SETTINGS)
            .map_err(StoreError::from_dom)
    }

    /// Removes expired entries and tombstones.
    pub async fn purge(&self, now: Millis) -> Result<usize, StoreError> {
        let change = self.change().await?;
        let purged = change.purge(now).await?;
        change.commit().finished().await?;
        Ok(purged)
    }

    /// A readwrite transaction over the feed and its tombstones.
    async fn change(&self) -> Result<Change, StoreError> {
        Change::begin(self.transaction(&feed_stores(), "readwrite").await?)
    }

    /// A transaction over `stores`; reconnects once when the connection was closed by a
    /// `versionchange`.
    async fn transaction(
        &self,
        names: &Array,
        mode: &str,
    ) -> Result<web_sys::IdbTransaction, StoreError> {
        let begin = |database: IdbDatabase| {
            database
                .unchecked_ref::<Database>()
                .transaction_of(names, mode)
                .map_err(StoreError::from_dom)
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

/// The stores of a feed transaction: entries and their tombstones.
fn feed_stores() -> Array {
    Array::of2(&JsValue::from_str(FEED), &JsValue::from_str(TOMBSTONES))
}

/// Opens the database, creating its stores on first use.
async fn open_database() -> Result<IdbDatabase, StoreError> {
    let factory = get(&global(), "indexedDB");
    if !factory.is_object() {
        return Err(StoreError::Unavailable(JsValue::from_str("no IndexedDB")));
    }
    let factory: web_sys::IdbFactory = factory.unchecked_into();
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
    let event = settled(first)
        .await
        .map_err(|_| StoreError::from_dom(request_error(&request)))?;
    if get_string(&event, "type").as_deref() == Some("upgradeneeded") {
        let database: IdbDatabase = request
            .result()
            .map_err(StoreError::Unavailable)?
            .unchecked_into();
        create_schema(&database).map_err(StoreError::Unavailable)?;
        completion(&request)
            .await
            .map_err(|_| StoreError::from_dom(request_error(&request)))?;
    }
    let database: IdbDatabase = request
        .result()
        .map_err(StoreError::Unavailable)?
        .unchecked_into();
    // `close` bound to the connection: no Rust closure kept alive for it.
    if let Some(close) = get(&database, "close").dyn_ref::<Function>() {
        database.set_onversionchange(Some(&close.bind0(&database)));
    }
    Ok(database)
}

/// Tells every other context of the origin that the feed changed: `{id, change}`, where
/// `change` is `added`, `updated`, `deleted` or `purged` (with no id).
pub fn announce(key: Option<&str>, change: &str) {
    let message = Object::new();
    set(
        &message,
        "id",
        &key.map_or(JsValue::NULL, JsValue::from_str),
    );
    set(&message, "change", &JsValue::from_str(change));
    if let Ok(channel) = BroadcastChannel::new(CHANGES_CHANNEL) {
        let _ = channel.post_message(&message);
        channel.close();
    }
}

/// One transaction in progress.
struct Change {
    transaction: web_sys::IdbTransaction,
    feed: IdbObjectStore,
    tombstones: IdbObjectStore,
}

impl Change {
    fn begin(transaction: web_sys::IdbTransaction) -> Result<Change, StoreError> {
        let store = |name| transaction.object_store(name).map_err(StoreError::from_dom);
        Ok(Change {
            feed: store(FEED)?,
            tombstones: store(TOMBSTONES)?,
            transaction,
        })
    }

    async fn entry(&self, key: &str) -> Result<Option<FeedEntry>, StoreError> {
        let value = read(self.feed.get(&JsValue::from_str(key))).await?;
        Ok(entry_from_js(&value))
    }

    fn put(&self, entry: &FeedEntry) -> Result<(), StoreError> {
        request(self.feed.put(&record_of(entry)))
    }

    /// The keys in `store` that expired at `now`, asked for now.
    fn expired(
        &self,
        store: &IdbObjectStore,
        now: Millis,
    ) -> Result<impl Future<Output = Result<JsValue, StoreError>>, StoreError> {
        let expired = IdbKeyRange::upper_bound(&JsValue::from_f64(now as f64))
            .map_err(StoreError::Unavailable)?;
        let index = store.index(BY_EXPIRY).map_err(StoreError::from_dom)?;
        Ok(read(index.get_all_keys_with_key(&expired)))
    }

    /// Deletes what expired at `now` from both stores; the deletes are queued, not awaited.
    async fn purge(&self, now: Millis) -> Result<usize, StoreError> {
        let entries = self.expired(&self.feed, now)?;
        let tombstones = self.expired(&self.tombstones, now)?;
        let entries = Array::from(&entries.await?);
        for key in entries.iter() {
            request(self.feed.delete(&key))?;
        }
        for key in Array::from(&tombstones.await?).iter() {
            request(self.tombstones.delete(&key))?;
        }
        Ok(entries.length() as usize)
    }

    /// Settles once everything is on disk; a failure (quota) rejects. The handlers are set
    /// at once: the caller may await it after other work.
    fn commit(self) -> Commit {
        let transaction = self.transaction;
        let done = Promise::new(&mut |resolve, reject| {
            transaction.set_oncomplete(Some(&resolve));
            transaction.set_onerror(Some(&reject));
            transaction.set_onabort(Some(&reject));
        });
        Commit {
            done: settled(done),
            transaction,
        }
    }
}

/// A feed transaction whose requests are all issued, committing.
pub struct Commit {
    done: Settled,
    transaction: web_sys::IdbTransaction,
}

impl Commit {
    pub async fn finished(self) -> Result<(), StoreError> {
        if self.done.await.is_err() {
            let error = self.transaction.error();
            return Err(StoreError::from_dom(
                error.map_or(JsValue::NULL, JsValue::from),
            ));
        }
        Ok(())
    }
}

fn create_schema(database: &IdbDatabase) -> Result<(), JsValue> {
    if !database.object_store_names().contains(SETTINGS) {
        database.create_object_store(SETTINGS)?;
    }
    if database.object_store_names().contains(FEED) {
        return Ok(());
    }
    let by_id = Object::new();
    set(&by_id, "keyPath", &JsValue::from_str("id"));
    let by_id = by_id.unchecked_ref::<web_sys::IdbObjectStoreParameters>();
    let feed = database.create_object_store_with_optional_parameters(FEED, by_id)?;
    feed.create_index_with_str(BY_EXPIRY, BY_EXPIRY)?;
    feed.create_index_with_str(BY_GROUP, BY_GROUP)?;
    let counted = Array::of3(
        &JsValue::from_str(BY_GROUP),
        &JsValue::from_str(BY_COUNT),
        &JsValue::from_str("created"),
    );
    feed.create_index_with_str_sequence(BY_COUNT, &counted)?;
    let tombstones = database.create_object_store_with_optional_parameters(TOMBSTONES, by_id)?;
    tombstones.create_index_with_str(BY_EXPIRY, BY_EXPIRY)?;
    Ok(())
}

/// A queued request whose result is not needed: only a synchronous throw is an error here
/// (a later failure aborts the transaction, which `commit` reports).
fn request(call: Result<IdbRequest, JsValue>) -> Result<(), StoreError> {
    call.map(|_| ()).map_err(StoreError::from_dom)
}

/// A request's result, once it succeeded. The handlers are set as it is issued, so that
/// requests issued together are answered in one round trip and awaited in turn.
fn read(call: Result<IdbRequest, JsValue>) -> impl Future<Output = Result<JsValue, StoreError>> {
    let issued = call.map(|request| (completion(&request), request));
    async move {
        let (done, request) = issued.map_err(StoreError::from_dom)?;
        match done.await {
            Ok(_) => request.result().map_err(StoreError::from_dom),
            Err(_) => Err(StoreError::from_dom(request_error(&request))),
        }
    }
}

/// Settles with the request: fulfilled on success, rejected on error.
fn completion(request: &IdbRequest) -> Settled {
    settled(Promise::new(&mut |resolve, reject| {
        request.set_onsuccess(Some(&resolve));
        request.set_onerror(Some(&reject));
    }))
}

fn request_error(request: &IdbRequest) -> JsValue {
    request
        .error()
        .ok()
        .flatten()
        .map_or(JsValue::NULL, JsValue::from)
}

/// The stored record of `entry` ([`crate::core::record`]), as a JS object.
pub fn record_of(entry: &FeedEntry) -> JsValue {
    js_sys::JSON::parse(&record_text(entry)).unwrap_or(JsValue::NULL)
}

/// A stored record back; `None` for anything that is not one (absent, or written by
/// something else).
fn entry_from_js(record: &JsValue) -> Option<FeedEntry> {
    entry_of(&tree_of(record))
}

fn entries_from_js(records: &JsValue) -> Vec<FeedEntry> {
    if !Array::is_array(records) {
        return Vec::new();
    }
    Array::from(records)
        .iter()
        .filter_map(|record| entry_from_js(&record))
        .collect()
}

/// A record's members as the core's JSON tree: strings and numbers, one level deep.
fn tree_of(record: &JsValue) -> Json {
    if !record.is_object() {
        return Json::Null;
    }
    let members = js_sys::Object::entries(record.unchecked_ref())
        .iter()
        .filter_map(|pair| {
            let pair = Array::from(&pair);
            let name = pair.get(0).as_string()?;
            let value = pair.get(1);
            let value = match (value.as_string(), value.as_f64()) {
                (Some(text), _) => Json::String(text),
                (None, Some(number)) => Json::Number(number),
                _ => Json::Null,
            };
            Some((name, value))
        })
        .collect();
    Json::Object(members)
}

/// A store failure as the page API rejects with it: an `Error` named by its code.
pub fn rejection(store_error: StoreError) -> JsValue {
    let message = match store_error {
        StoreError::NotFound => "no unexpired notification with this id",
        StoreError::QuotaExceeded(_) => "the origin's storage quota is used up",
        StoreError::Unavailable(_) => "the notification feed cannot be opened",
    };
    super::js::error(store_error.code(), message)
}

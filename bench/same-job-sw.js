// The benchmark's second baseline: the same job as usernotify's worker, hand-written in JS as
// a careful developer would, with nothing slowed down. It keeps the feed in IndexedDB as ours
// must: the database opened once per worker life; in one readwrite transaction it reads the
// entry and its tombstone by id (a redelivered or deleted one is not shown again), puts the
// entry and counts its group; it shows the notification with the count while the transaction
// commits, and after the commit tells open pages, the way usernotify reports.
const DATABASE = 'same-job';

let opened;
const database = () => (opened ??= new Promise((resolve, reject) => {
  const request = indexedDB.open(DATABASE, 1);
  request.onupgradeneeded = () => {
    const feed = request.result.createObjectStore('feed', { keyPath: 'id' });
    feed.createIndex('groupName', 'groupName');
    request.result.createObjectStore('tombstones', { keyPath: 'id' });
  };
  request.onsuccess = () => {
    const db = request.result;
    // Another context deleting or upgrading the database is never blocked by this worker.
    db.onversionchange = () => {
      db.close();
      opened = undefined;
    };
    resolve(db);
  };
  request.onerror = () => {
    opened = undefined;
    reject(request.error);
  };
}));

const report = async (key, outcome) => {
  for (const page of await self.clients.matchAll({ type: 'window', includeUncontrolled: true })) {
    page.postMessage({ type: 'usernotify-push-handled', key, outcome });
  }
};

const status = () => self.registration.showNotification('Notifications', { body: "You're all caught up.", tag: 'status', silent: true });

/** Reads, writes and counts in one transaction: `{ fresh, count, committed }`. */
const receive = (db, entry) => new Promise((resolve, reject) => {
  const transaction = db.transaction(['feed', 'tombstones'], 'readwrite');
  const committed = new Promise((done, failed) => {
    transaction.oncomplete = done;
    transaction.onabort = () => failed(transaction.error);
  });
  transaction.onerror = () => reject(transaction.error);
  const feed = transaction.objectStore('feed');
  const stored = feed.get(entry.id);
  const tombstone = transaction.objectStore('tombstones').get(entry.id);
  tombstone.onsuccess = () => {
    if (stored.result || tombstone.result) return resolve({ fresh: false, count: 0, committed });
    feed.put(entry);
    if (!entry.groupName) return resolve({ fresh: true, count: 1, committed });
    const counting = feed.index('groupName').count(entry.groupName);
    counting.onsuccess = () => resolve({ fresh: true, count: counting.result, committed });
  };
});

self.addEventListener('push', (event) => {
  event.waitUntil((async () => {
    let notification = null;
    try {
      notification = event.data.json();
    } catch {
      notification = null;
    }
    const id = notification?.appNotificationId;
    const visual = notification?.payload?.visualContent;
    const now = Date.now();
    const expires = Date.parse(notification?.expirationDateTime);
    if (!id || !visual?.title || expires <= now) {
      await status();
      return report(id ?? '', 'status');
    }
    const group = notification.groupName;
    const entry = { id, title: visual.title, body: visual.body ?? '', created: now, expires, read: false, ...(group ? { groupName: group } : {}) };
    const { fresh, count, committed } = await receive(await database(), entry);
    if (!fresh) {
      await committed;
      return report(id, 'duplicate');
    }
    const title = count > 1 ? `${visual.title} (${count} new)` : visual.title;
    await Promise.all([self.registration.showNotification(title, { body: entry.body, tag: group ?? id, data: { id } }), committed]);
    await report(id, 'shown');
  })());
});
self.addEventListener('install', (event) => event.waitUntil(self.skipWaiting()));
self.addEventListener('activate', (event) => event.waitUntil(self.clients.claim()));

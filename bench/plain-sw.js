// The benchmark's baseline: a plain hand-written JS worker that does the minimum a push
// needs (parse, check expiry, show) and reports to pages the way usernotify does, so both
// are timed the same way.
const report = async (key) => {
  for (const page of await self.clients.matchAll({ type: 'window', includeUncontrolled: true })) {
    page.postMessage({ type: 'usernotify-push-handled', key, outcome: 'shown' });
  }
};

self.addEventListener('push', (event) => {
  event.waitUntil((async () => {
    let notification = null;
    try {
      notification = event.data.json();
    } catch {
      notification = null;
    }
    const visual = notification?.payload?.visualContent;
    const expired = Date.parse(notification?.expirationDateTime) <= Date.now();
    if (!visual?.title || expired) {
      await self.registration.showNotification('Notifications', { tag: 'status', silent: true });
    } else {
      await self.registration.showNotification(visual.title, {
        body: visual.body ?? '',
        tag: notification.groupName ?? notification.appNotificationId ?? '',
      });
    }
    await report(notification?.appNotificationId ?? '');
  })());
});
self.addEventListener('install', (event) => event.waitUntil(self.skipWaiting()));
self.addEventListener('activate', (event) => event.waitUntil(self.clients.claim()));

// The notification centre of the package, <usernotify-inbox> (npm/inbox.js, `usernotify/inbox`),
// as a user meets it in the demo (www/ uses it, with no copy of its own): the bell and its
// unread count, the panel grouped by groupName, read, dismiss, delete, open a notification's
// URL, mark all read; live through onChanged; with the mouse, with the keyboard, on a 390 px
// phone screen; localised and themed; and axe-core's accessibility rules. Everything is read
// from what the component shows (its open shadow root) and done with the browser's own mouse
// and keyboard, in every engine. Every test pushes under its own ids and group names: the feed
// persists for the whole file.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { BROWSERS, inBrowser, openDemo, until, visual, withClient } from './harness.mjs';

const axeSource = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

let serial = 0;
/** A fresh id per run: deleted ids stay remembered in the feed until they expire. */
const fresh = (name) => `${name}-${Date.now()}-${serial++}`;

for (const browser of BROWSERS) describe(`the inbox component ${inBrowser(browser)}`, () => {
  let demo;
  let page;
  before(async () => {
    demo = await openDemo({ browser });
    page = demo.page;
    await demo.resize(1280, 800);
    await inboxReady();
  });
  after(() => demo?.close());

  /** Waits until the demo handed the component its client. */
  const inboxReady = () => until(() => page.evaluate(() => Boolean(document.querySelector('usernotify-inbox')?.client)), Boolean, { what: 'the inbox given its client' });

  /** Reads the component's shadow root: `read(root, arg)` runs in the page. */
  const inShadow = (read, arg) => page.evaluate(
    ([source, value]) => {
      const root = document.querySelector('usernotify-inbox').shadowRoot;
      // eslint-disable-next-line no-new-func
      return new Function('root', 'value', `return (${source})(root, value);`)(root, value);
    },
    [read.toString(), arg],
  );

  /** The bell as the user reads it: its count (empty when hidden) and its accessible name. */
  const bell = () => inShadow((root) => ({
    count: root.querySelector('.badge').hidden ? '' : root.querySelector('.badge').textContent,
    name: root.querySelector('.bell').getAttribute('aria-label'),
    expanded: root.querySelector('.bell').getAttribute('aria-expanded'),
  }));
  const panelOpen = () => inShadow((root) => !root.querySelector('.panel').hidden);

  /** What the panel lists: groups with their headings, and each entry's title, state and buttons. */
  const listed = () => inShadow((root) => [...root.querySelectorAll('.list > li')].map((item) => {
    const entry = (li) => ({
      id: li.dataset.id,
      title: li.querySelector('.title').textContent,
      body: li.querySelector('.body').textContent,
      state: li.className.replace('entry ', ''),
      buttons: [...li.querySelectorAll('button')].map((button) => `${button.textContent}${button.disabled ? ' (disabled)' : ''}`),
      href: li.querySelector('a.title')?.getAttribute('href') ?? null,
    });
    return item.classList.contains('group')
      ? { group: item.querySelector('h3').textContent, entries: [...item.querySelectorAll('li.entry')].map(entry) }
      : entry(item);
  }));
  const entries = async () => (await listed()).flatMap((item) => item.entries ?? [item]);
  const entryOf = async (id) => (await entries()).find((entry) => entry.id === id);

  /** Clicks what `selector` finds in the component (the `index`th), with the browser's mouse. */
  const clickIn = async (selector, index = 0) => {
    const box = await inShadow((root, [at, n]) => {
      const element = root.querySelectorAll(at)[n];
      if (!element) return null;
      element.scrollIntoView({ block: 'nearest' });
      const { x, y, width, height } = element.getBoundingClientRect();
      return { x: x + width / 2, y: y + height / 2 };
    }, [selector, index]);
    assert.ok(box, `${selector} is in the component`);
    await page.mouse.click(box.x, box.y);
  };
  /** Clicks the button named `name` of the entry `id`. */
  const clickButton = async (id, name) => {
    const index = await inShadow((root, [entry, label]) => [...root.querySelectorAll('li.entry button')]
      .findIndex((button) => button.closest('li.entry').dataset.id === entry && button.textContent === label), [id, name]);
    assert.ok(index >= 0, `${id} has a ${name} button`);
    await clickIn('li.entry button', index);
  };
  const openPanel = async () => {
    if (!(await panelOpen())) await clickIn('.bell');
    await until(panelOpen, Boolean, { what: 'the panel open' });
  };
  const closePanel = async () => {
    if (await panelOpen()) await page.keyboard.press('Escape');
    await until(panelOpen, (open) => !open, { what: 'the panel closed' });
  };
  const clearFeed = () => withClient(page, async (client) => {
    for (const { id } of await client.getAllNotifications()) await client.deleteNotification(id);
  });
  const focused = () => inShadow((root) => {
    const active = root.activeElement;
    if (!active) return null;
    const entry = active.closest('li.entry');
    return active.matches('li.entry') ? `entry ${entry.dataset.id}` : `${active.tagName.toLowerCase()} ${active.getAttribute('aria-label') || active.textContent.trim()}`;
  });

  test('the bell counts what is unread and names it for screen readers; reads, dismissals and deletes change it; nothing unread hides the count', async () => {
    await clearFeed();
    await until(bell, (state) => state.count === '', { what: 'no count' });
    const ids = [fresh('bell'), fresh('bell'), fresh('bell')];
    for (const id of ids) await demo.push(visual(`Bell ${id}`, 'b', { appNotificationId: id }));
    await until(bell, (state) => state.count === '3', { what: 'three unread' });
    assert.deepEqual(await bell(), { count: '3', name: 'Notifications, 3 unread', expanded: 'false' });
    await openPanel();
    assert.equal((await bell()).expanded, 'true');
    await until(entries, (list) => list.length === 3, { what: 'three listed' });
    await clickButton(ids[0], 'Read');
    await until(bell, (state) => state.count === '2', { what: 'two unread after a read' });
    await clickButton(ids[1], 'Dismiss');
    await until(bell, (state) => state.count === '1', { what: 'one unread after a dismissal' });
    await clickButton(ids[2], 'Delete');
    await until(bell, (state) => state.count === '', { what: 'the count hidden' });
    assert.equal((await bell()).name, 'Notifications');
    await closePanel();
  });

  test('the panel lists the feed newest first, a group under one heading with its unread count, pushed markup as text', async () => {
    const group = fresh('orders');
    const markup = '<img src=x onerror="window.__pwned=true">';
    await demo.push(visual('First of two', 'one', { appNotificationId: fresh('pair'), groupName: group }));
    await demo.push(visual(markup, 'markup body', { appNotificationId: fresh('markup') }));
    await demo.push(visual('Second of two', 'two', { appNotificationId: fresh('pair'), groupName: group }));
    await openPanel();
    const items = await until(listed, (list) => list.some((item) => item.group?.startsWith(group)), { what: 'the group listed' });
    assert.deepEqual(items.slice(0, 2).map((item) => item.group ?? item.title), [`${group} 2 unread`, `Unread: ${markup}`], 'the group where its newest is');
    assert.deepEqual(items[0].entries.map((entry) => entry.title), ['Unread: Second of two', 'Unread: First of two']);
    assert.deepEqual(items[0].entries[0].buttons, ['Read', 'Dismiss', 'Delete']);
    assert.equal(await inShadow((root) => root.querySelectorAll('.list img').length), 0);
    assert.equal(await page.evaluate(() => window.__pwned), undefined);
    await closePanel();
  });

  test('Read becomes Unread, Dismiss closes the notification on screen, Delete removes it from the list and the screen, Mark all read reads the rest', async () => {
    const [read, dismissed, deleted] = [fresh('read'), fresh('dismiss'), fresh('delete')];
    await demo.push(visual('Read me', 'r', { appNotificationId: read }));
    await demo.push(visual('Dismiss me', 'd', { appNotificationId: dismissed }));
    await demo.push(visual('Delete me', 'x', { appNotificationId: deleted }));
    await openPanel();
    await until(() => entryOf(deleted), Boolean, { what: 'the entries listed' });
    await clickButton(read, 'Read');
    await until(() => entryOf(read), (entry) => entry.state === 'read', { what: 'read' });
    assert.deepEqual((await entryOf(read)).buttons, ['Unread', 'Dismiss', 'Delete']);
    await clickButton(read, 'Unread');
    await until(() => entryOf(read), (entry) => entry.state === 'unread', { what: 'unread again' });
    assert.ok((await demo.shown()).some((n) => n.tag === `usernotify:${dismissed}`), 'on screen first');
    await clickButton(dismissed, 'Dismiss');
    await until(() => entryOf(dismissed), (entry) => entry.state === 'unread dismissed', { what: 'dismissed' });
    assert.deepEqual((await entryOf(dismissed)).buttons, ['Read', 'Dismiss (disabled)', 'Delete']);
    await demo.shownWhen((list) => !list.some((n) => n.tag === `usernotify:${dismissed}`), 'the dismissed notification closed');
    await clickButton(deleted, 'Delete');
    await until(() => entryOf(deleted), (entry) => entry === undefined, { what: 'deleted from the list' });
    await demo.shownWhen((list) => !list.some((n) => n.tag === `usernotify:${deleted}`), 'the deleted notification closed');
    await clickIn('.mark-all');
    await until(entries, (list) => list.every((entry) => entry.state.startsWith('read')), { what: 'everything read' });
    assert.equal((await bell()).count, '');
    assert.equal(await inShadow((root) => root.querySelector('.mark-all').disabled), true, 'nothing left to mark');
    assert.equal(await inShadow((root) => root.querySelector('.error').textContent), '');
    await closePanel();
  });

  test('a push arriving while the panel is open is listed without a reload, and a change made in another tab too', async () => {
    await openPanel();
    await page.evaluate(() => { window.__sameDocument = true; });
    const live = fresh('live');
    await demo.push(visual('Live', 'arrived', { appNotificationId: live }));
    await until(listed, (list) => list[0]?.id === live, { what: 'the pushed entry listed first' });
    const other = await demo.context.newPage();
    try {
      await other.goto(`${demo.origin}/`);
      await withClient(other, (client, id) => client.updateReadState(id, 'read'), live);
    } finally {
      await other.close();
    }
    await until(() => entryOf(live), (entry) => entry.state === 'read', { what: 'the read state from the other tab' });
    assert.equal(await page.evaluate(() => window.__sameDocument), true, 'no reload');
    await closePanel();
  });

  test("a notification's URL is its title's link: following it marks it read and opens the page, same origin only", async () => {
    const [own, foreign] = [fresh('link'), fresh('foreign')];
    await demo.push(visual('Your order', 'o', { appNotificationId: foreign, payload: { visualContent: { title: 'Elsewhere', body: 'e', url: 'https://example.com/x' } } }));
    await demo.push(visual('Your order', 'o', { appNotificationId: own, payload: { visualContent: { title: 'Your order', body: 'o', url: '/fixtures/order.html?n=7' } } }));
    await openPanel();
    await until(() => entryOf(own), Boolean, { what: 'listed' });
    assert.equal((await entryOf(foreign)).href, null, 'no link to another origin');
    assert.equal((await entryOf(own)).href, `${demo.origin}/fixtures/order.html?n=7`);
    const index = await inShadow((root, id) => [...root.querySelectorAll('li.entry')].findIndex((li) => li.dataset.id === id), own);
    const navigated = page.waitForNavigation();
    await clickIn('li.entry .title', index);
    await navigated;
    assert.equal(page.url(), `${demo.origin}/fixtures/order.html?n=7`);
    const entry = await until(async () => (await withClient(page, (client) => client.getAllNotifications())).find((e) => e.id === own), Boolean, { what: 'the entry' });
    assert.deepEqual([entry.readState, entry.userActionState], ['read', 'activated']);
    await page.goto(`${demo.origin}/`);
    await inboxReady();
  });

  test('with the keyboard alone: Tab reaches the bell, Enter opens the panel with the focus in it, arrows move between notifications, Escape closes it and gives the focus back to the bell', async () => {
    const ids = [fresh('key'), fresh('key')];
    for (const id of ids) await demo.push(visual(`Key ${id}`, 'k', { appNotificationId: id }));
    await until(bell, (state) => state.count !== '', { what: 'something unread' });
    // Headless Firefox shows notifications in windows of its own (alerts.useSystemBackend
    // false), and one on screen keeps Enter from activating a button of the page: closed first.
    await demo.closeAll();
    await demo.shownWhen((list) => list.length === 0, 'no notification on screen');
    await page.evaluate(() => document.activeElement?.blur());
    // The bell is in the app bar, the first thing after the brand: a few tabs at most.
    let onBell = false;
    for (let tab = 0; tab < 5 && !onBell; tab += 1) {
      await page.keyboard.press('Tab');
      onBell = (await focused())?.startsWith('button Notifications') ?? false;
    }
    assert.ok(onBell, `Tab reaches the bell: ${await focused()}`);
    await page.keyboard.press('Enter');
    await until(panelOpen, Boolean, { what: 'the panel open' });
    assert.equal(await focused(), 'h2 Notifications', 'the focus moves into the panel, on its heading');
    await page.keyboard.press('ArrowDown');
    assert.equal(await focused(), `entry ${ids[1]}`, 'the newest notification');
    await page.keyboard.press('ArrowDown');
    assert.equal(await focused(), `entry ${ids[0]}`);
    await page.keyboard.press('Tab');
    assert.equal(await focused(), 'button Read');
    await page.keyboard.press('Enter');
    await until(() => entryOf(ids[0]), (entry) => entry.state.startsWith('read'), { what: 'read from the keyboard' });
    await page.keyboard.press('Escape');
    await until(panelOpen, (open) => !open, { what: 'closed by Escape' });
    assert.match(await focused(), /^button Notifications/, 'the focus is back on the bell');
    assert.equal((await bell()).expanded, 'false');
  });

  test('on a 390 px phone screen the app bar stays one line and the panel opens under the bell, inside the screen', async () => {
    await demo.resize(390, 844);
    try {
      for (let n = 0; n < 3; n += 1) await demo.push(visual(`A rather long title for a phone screen, number ${n}`, 'a body that wraps on a narrow screen', { appNotificationId: fresh('phone') }));
      const bar = await page.evaluate(() => document.querySelector('.app-bar').getBoundingClientRect().height);
      assert.ok(bar < 70, `the app bar is one line: ${bar} px`);
      await openPanel();
      const [panel, bellBox] = await inShadow((root) => ['.panel', '.bell'].map((at) => root.querySelector(at).getBoundingClientRect().toJSON()));
      assert.ok(panel.left >= 0 && panel.right <= 390, `inside the screen's width: ${JSON.stringify(panel)}`);
      assert.ok(panel.top >= bellBox.bottom && panel.top < bellBox.bottom + 20, `right under the bell: ${JSON.stringify({ panel, bellBox })}`);
      assert.ok(panel.bottom <= 844, `inside the screen's height: ${JSON.stringify(panel)}`);
      assert.ok(panel.width >= 300, `as wide as the screen allows: ${panel.width}`);
      // A tap outside (on the app bar's brand) closes it, as a user expects of a panel.
      await page.mouse.click(20, bellBox.top + bellBox.height / 2);
      await until(panelOpen, (open) => !open, { what: 'closed by a tap outside' });
    } finally {
      await demo.resize(1280, 800);
    }
  });

  test("axe-core finds no accessibility violations in the component, closed and open with a group, read and unread notifications", async () => {
    await demo.push(visual('Axe one', 'a', { appNotificationId: fresh('axe'), groupName: fresh('axe-group'), priority: 'High' }));
    await demo.push(visual('Axe two', 'b', { appNotificationId: fresh('axe'), payload: { visualContent: { title: 'Axe two', body: 'b', url: '/fixtures/order.html' } } }));
    if (!(await page.evaluate(() => Boolean(window.axe)))) await page.addScriptTag({ content: axeSource });
    const violations = () => page.evaluate(async () => {
      const results = await window.axe.run(document.querySelector('usernotify-inbox'), { resultTypes: ['violations'] });
      return results.violations.map(({ id, help, nodes }) => `${id}: ${help} (${nodes.map((node) => node.target.join(' ')).join(', ')})`);
    });
    assert.deepEqual(await violations(), [], 'closed');
    await openPanel();
    await until(entries, (list) => list.length >= 2, { what: 'listed' });
    assert.deepEqual(await violations(), [], 'open');
    await closePanel();
  });

  test('labels are localised and the look follows CSS custom properties and ::part()', async () => {
    await page.evaluate(() => {
      const inbox = document.querySelector('usernotify-inbox');
      inbox.labels = { title: 'Notificações', markAllRead: 'Marcar tudo como lido', read: 'Lida', bell: (n) => `Notificações, ${n} por ler` };
      const style = document.createElement('style');
      style.id = 'theme';
      style.textContent = 'usernotify-inbox { --usernotify-badge: rgb(0, 128, 0); } usernotify-inbox::part(panel) { border-width: 3px; }';
      document.head.append(style);
    });
    try {
      await demo.push(visual('Localised', 'l', { appNotificationId: fresh('l10n') }));
      await until(bell, (state) => /^Notificações, \d+ por ler$/.test(state.name), { what: 'the bell named in Portuguese' });
      await openPanel();
      const shown = await inShadow((root) => ({
        heading: root.querySelector('h2').textContent,
        markAll: root.querySelector('.mark-all').textContent,
        read: root.querySelector('li.entry button').textContent,
        badge: getComputedStyle(root.querySelector('.badge')).backgroundColor,
        border: getComputedStyle(root.querySelector('.panel')).borderTopWidth,
      }));
      assert.deepEqual(shown, { heading: 'Notificações', markAll: 'Marcar tudo como lido', read: 'Lida', badge: 'rgb(0, 128, 0)', border: '3px' });
    } finally {
      await page.evaluate(() => {
        document.querySelector('usernotify-inbox').labels = {};
        document.getElementById('theme').remove();
      });
      await closePanel();
    }
  });

  test("an action on a notification already deleted shows the page API's error code in the panel", async () => {
    const gone = fresh('gone');
    await demo.push(visual('Gone', 'g', { appNotificationId: gone }));
    await openPanel();
    await until(() => entryOf(gone), Boolean, { what: 'listed' });
    // Delete, then Read before the list redraws: the read finds nothing.
    await inShadow((root, id) => {
      const buttons = [...root.querySelectorAll('li.entry')].find((li) => li.dataset.id === id).querySelectorAll('button');
      const named = (name) => [...buttons].find((button) => button.textContent === name);
      named('Delete').click();
      named('Read').click();
    }, gone);
    await until(() => inShadow((root) => root.querySelector('.error').textContent), (text) => text === 'Read: not-found', { what: 'the error code shown' });
    await until(() => entryOf(gone), (entry) => entry === undefined, { what: 'gone from the list' });
    await closePanel();
  });
});

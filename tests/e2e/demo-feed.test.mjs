// What a user sees in the demo's feed list (www/demo.js, through the page API).
// Every test pushes under its own ids and group names: the feed persists for the whole file.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { openDemo, until, visual } from './harness.mjs';

describe('the demo page lists the feed live', () => {
  let demo;
  before(async () => {
    demo = await openDemo();
  });
  after(() => demo?.close());

  const entryIn = (page, id) => page.locator(`#feed li.entry[data-id="${id}"]`);
  const entry = (id) => entryIn(demo.page, id);
  /** Waits until `locator` matches `count` elements. */
  const counted = (locator, count, what) => until(() => locator.count(), (n) => n === count, { what });
  const textOf = (locator, accept, what) => until(() => locator.textContent(), (text) => accept(text ?? ''), { what });
  const clickButton = (id, name) => entry(id).getByRole('button', { name, exact: true }).click();
  const itemTag = (id) => `usernotify:${id}`;

  test('pushed markup in a title is listed as literal text and never becomes an element', async () => {
    const markup = '<img src=x onerror="window.__pwned=true">';
    await demo.push(visual(markup, 'markup body', { appNotificationId: 'feed-markup' }));
    await counted(entry('feed-markup'), 1, 'the entry listed');
    assert.equal(await entry('feed-markup').locator('.title').textContent(), markup);
    assert.equal(await entry('feed-markup').locator('.text').textContent(), 'markup body');
    assert.equal(await demo.page.locator('#feed img').count(), 0);
    assert.equal(await demo.page.evaluate(() => window.__pwned), undefined);
  });

  test('two pushes of one group are listed under one group heading with their unread count', async () => {
    await demo.push(visual('First of two', 'one', { appNotificationId: 'feed-pair-1', groupName: 'feed-pair' }));
    await demo.push(visual('Second of two', 'two', { appNotificationId: 'feed-pair-2', groupName: 'feed-pair' }));
    const group = demo.page.locator('#feed li.group[data-group="feed-pair"]');
    await counted(group.locator('li.entry'), 2, 'both entries in the group');
    assert.equal(await group.count(), 1, 'one heading for the group');
    assert.equal(await group.locator('h3').textContent(), 'feed-pair 2 unread');
    assert.deepEqual(await group.locator('li.entry .title').allTextContents(), ['Second of two', 'First of two'], 'newest first');
  });

  test('clicking Read marks the entry read in the list and its button becomes Unread', async () => {
    await demo.push(visual('Read me', 'r', { appNotificationId: 'feed-read' }));
    await counted(entry('feed-read'), 1, 'the entry listed');
    assert.match(await entry('feed-read').locator('.states').textContent(), /^unread · none/);
    await clickButton('feed-read', 'Read');
    await textOf(entry('feed-read').locator('.states'), (text) => text.startsWith('read · none'), 'the read state listed');
    assert.equal(await entry('feed-read').getByRole('button', { name: 'Unread', exact: true }).count(), 1);
    await clickButton('feed-read', 'Unread');
    await textOf(entry('feed-read').locator('.states'), (text) => text.startsWith('unread · '), 'unread again');
  });

  test('clicking Dismiss marks the entry dismissed in the list and closes its notification', async () => {
    await demo.push(visual('Dismiss me', 'd', { appNotificationId: 'feed-dismiss' }));
    // Read after the worker's report: nothing is being shown any more.
    assert.ok((await demo.shown()).some((n) => n.tag === itemTag('feed-dismiss')), 'on screen first');
    await counted(entry('feed-dismiss'), 1, 'the entry listed');
    await clickButton('feed-dismiss', 'Dismiss');
    await textOf(entry('feed-dismiss').locator('.states'), (text) => text.includes('· dismissed ·'), 'the dismissed state listed');
    // The worker only closes (nothing is shown), so polling the screen is safe.
    await demo.shownWhen((list) => !list.some((n) => n.tag === itemTag('feed-dismiss')), 'the notification closed');
  });

  test('clicking Delete removes the entry from the list and closes its notification', async () => {
    await demo.push(visual('Delete me', 'x', { appNotificationId: 'feed-delete' }));
    assert.ok((await demo.shown()).some((n) => n.tag === itemTag('feed-delete')), 'on screen first');
    await counted(entry('feed-delete'), 1, 'the entry listed');
    await clickButton('feed-delete', 'Delete');
    await counted(entry('feed-delete'), 0, 'the entry gone from the list');
    await demo.shownWhen((list) => !list.some((n) => n.tag === itemTag('feed-delete')), 'the notification closed');
    assert.equal(await demo.page.locator('#feed-error').textContent(), '');
  });

  test('a push arriving while the page is open is listed without a reload', async () => {
    await demo.page.evaluate(() => {
      window.__sameDocument = true;
    });
    await demo.push(visual('Live', 'arrived', { appNotificationId: 'feed-live' }));
    await counted(entry('feed-live'), 1, 'the pushed entry listed');
    assert.equal(await demo.page.locator('#feed li').first().getAttribute('data-id'), 'feed-live', 'newest first');
    assert.equal(await demo.page.evaluate(() => window.__sameDocument), true, 'no reload');
  });

  test('a change made in another tab is listed without a reload', async () => {
    await demo.push(visual('Elsewhere', 'e', { appNotificationId: 'feed-other-tab' }));
    await counted(entry('feed-other-tab'), 1, 'the entry listed');
    const other = await demo.context.newPage();
    try {
      await other.goto(`${demo.origin}/`);
      await counted(entryIn(other, 'feed-other-tab'), 1, 'the entry listed in the other tab');
      await entryIn(other, 'feed-other-tab').getByRole('button', { name: 'Read', exact: true }).click();
      await textOf(entry('feed-other-tab').locator('.states'), (text) => text.startsWith('read · '), 'the read state in this tab');
    } finally {
      await other.close();
    }
  });

  test('an action on an entry already deleted shows the API\'s error code', async () => {
    await demo.push(visual('Gone', 'g', { appNotificationId: 'feed-gone' }));
    await counted(entry('feed-gone'), 1, 'the entry listed');
    // Delete, then Read before the list redraws: the read finds nothing.
    await demo.page.evaluate(() => {
      const buttons = [...document.querySelector('#feed li.entry[data-id="feed-gone"]').querySelectorAll('button')];
      const named = (name) => buttons.find((button) => button.textContent === name);
      named('Delete').click();
      named('Read').click();
    });
    await textOf(demo.page.locator('#feed-error'), (text) => text === 'Read: not-found', 'the error code shown');
    await counted(entry('feed-gone'), 0, 'the entry gone from the list');
  });
});

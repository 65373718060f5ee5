import type { FeedEntry, NotificationClient } from './usernotify.js';

/** Every label the inbox shows or reads out; `inbox.labels = {...}` replaces any of them. */
export interface InboxLabels {
  title: string;
  /** The bell's accessible name, given the unread count. */
  bell: (unread: number) => string;
  markAllRead: string;
  close: string;
  read: string;
  unread: string;
  dismiss: string;
  delete: string;
  /** Read by screen readers before an unread notification's title. */
  unreadMarker: string;
  highPriority: string;
  untitled: string;
  empty: string;
  groupUnread: (count: number) => string;
  more: (count: number) => string;
  /** What the panel says when an action failed; `error.name` is the page API's stable code. */
  failed: (action: string, error: Error) => string;
}

export declare const DEFAULT_LABELS: Readonly<InboxLabels>;

/**
 * `<usernotify-inbox>`: a bell with the unread count and a panel listing the feed, grouped by
 * `groupName`, newest first, live through `onChanged`. Give it the app's client:
 * `inbox.client = await NotificationClient.open()`. Themed with CSS custom properties
 * (`--usernotify-accent`, `--usernotify-surface`, `--usernotify-text`, `--usernotify-muted`,
 * `--usernotify-border`, `--usernotify-badge`, `--usernotify-badge-text`,
 * `--usernotify-unread`, `--usernotify-radius`, `--usernotify-panel-width`,
 * `--usernotify-font`, `--usernotify-z-index`, ...) and `::part()` (`bell`, `badge`, `panel`,
 * `header`, `heading`, `mark-all-read`, `close`, `list`, `group`, `group-heading`, `item`,
 * `unread`, `read`, `dismissed`, `title`, `body`, `time`, `actions`, `action`, `empty`,
 * `error`). Dispatches a cancelable `usernotify-open` event (`detail: {entry, url}`) before
 * it follows a notification's URL.
 */
export declare class UsernotifyInbox extends HTMLElement {
  client: NotificationClient | null;
  labels: Partial<InboxLabels>;
  /** Whether the panel is open (the `open` attribute). */
  open: boolean;
  /** Unread, undismissed notifications: the bell's number. */
  readonly unreadCount: number;
  /** Marks every unread notification read. */
  markAllRead(): Promise<void>;
}

declare global {
  interface HTMLElementTagNameMap {
    'usernotify-inbox': UsernotifyInbox;
  }
  interface HTMLElementEventMap {
    'usernotify-open': CustomEvent<{ entry: FeedEntry; url: string }>;
  }
}

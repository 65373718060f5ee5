import type { Plugin } from 'vite';

export interface UsernotifyViteOptions {
  /**
   * The URL directory, under the app's `base`, where the service worker's files are served
   * (`vite`) and written (`vite build`): `usernotify-sw.js`, `usernotify-sw.classic.js` and
   * `usernotify_worker_bg.wasm`. Default `/`, beside `index.html`.
   */
  path?: string;
}

/**
 * Serves the usernotify service worker's files in the dev server and emits them in the build,
 * unbundled and unhashed, so that the app can register `${base}${path}usernotify-sw.js`.
 */
export default function usernotify(options?: UsernotifyViteOptions): Plugin;

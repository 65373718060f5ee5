// The app's whole Vite setup for usernotify: its plugin serves the service worker's files in
// `vite` (dev) and writes them into dist/ in `vite build`, beside index.html, where main.js
// registers the worker. Vite bundles the page API and emits its wasm on its own.
import { defineConfig } from 'vite';
import usernotify from 'usernotify/vite';

export default defineConfig({
  // Relative URLs: dist/ works wherever it is served (the tests serve it at /app/).
  base: './',
  plugins: [usernotify()],
});

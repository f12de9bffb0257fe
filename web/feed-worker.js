// SharedWorker: every tab of this origin connects here, and the worker holds the browser's one
// event stream (see feed-hub.js). The worker lives while any tab is connected.
import { FeedHub } from './feed-hub.js';

const hub = new FeedHub();

globalThis.onconnect = (e) => {
  const port = e.ports[0];
  const client = { post: (msg) => port.postMessage(msg) };
  port.onmessage = (m) => hub.receive(client, m.data);
  port.start();
};

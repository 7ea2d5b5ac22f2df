// Protocol check: the `graphql-ws` npm client (an independent implementation of
// graphql-transport-ws) against GraphJin for Rust's WebSocket route.
//
//   node client.mjs <ws-url> <count> <request-json> [connection-params-json]
//
// Subscribes with <request-json> ({"query", "operationName", "variables"}) and prints each
// `next` payload as one JSON line on stdout. With <count> > 0 it exits 0 after that many
// results; with <count> = 0 it expects the subscription to be refused and prints
// `ERROR <json>` and exits 0 when it is. Anything else (a close, completion, a timeout)
// exits 1 with the reason on stderr. Run by graphjin-runtime/tests/subs_node.rs; install
// with `npm ci` in this folder.

import { createClient } from 'graphql-ws';
import WebSocket from 'ws';

const [url, countText, requestText, paramsText] = process.argv.slice(2);
if (!url || countText === undefined || !requestText) {
  console.error('usage: node client.mjs <ws-url> <count> <request-json> [connection-params-json]');
  process.exit(2);
}
const count = Number(countText);
const request = JSON.parse(requestText);
const connectionParams = paramsText ? JSON.parse(paramsText) : {};

const client = createClient({
  url,
  webSocketImpl: WebSocket,
  connectionParams,
  retryAttempts: 0,
  lazy: true,
});

let finished = false;
async function finish(code, message) {
  if (finished) return;
  finished = true;
  clearTimeout(timer);
  if (message) (code === 0 ? console.log : console.error)(message);
  try {
    unsubscribe();
    await client.dispose();
  } catch {
    // closing anyway
  }
  process.exit(code);
}

const timer = setTimeout(() => finish(1, 'timed out waiting for the server'), 20000);

function describe(err) {
  if (Array.isArray(err)) return JSON.stringify(err);
  if (err && typeof err === 'object' && 'code' in err) {
    return JSON.stringify({ close: err.code, reason: err.reason });
  }
  return String(err);
}

let got = 0;
const unsubscribe = client.subscribe(request, {
  next: (value) => {
    console.log(JSON.stringify(value));
    got += 1;
    if (count > 0 && got >= count) finish(0);
  },
  error: (err) => {
    if (count === 0) finish(0, `ERROR ${describe(err)}`);
    else finish(1, `error: ${describe(err)}`);
  },
  complete: () => finish(1, 'the server completed the subscription early'),
});

// Subscribes with the npm graphql-ws client, as a front end would, and prints one JSON line per event:
// {"next": payload}, then {"complete": true} or {"error": [...]}. Usage: node subscribe.mjs URL TOKEN QUERY VARIABLES
import { createClient } from "graphql-ws";
import WebSocket from "ws";

const [url, token, query, variables] = process.argv.slice(2);
const print = (line) => process.stdout.write(JSON.stringify(line) + "\n");

const client = createClient({
  url,
  webSocketImpl: WebSocket,
  connectionParams: token ? { authorization: `Bearer ${token}` } : {},
  retryAttempts: 0,
  on: { connected: () => print({ connected: true }) },
});

client.subscribe(
  { query, variables: JSON.parse(variables || "{}") },
  {
    next: (payload) => print({ next: payload }),
    error: (error) => {
      // graphql-ws hands the `error` message's GraphQL errors as an array; a close event otherwise.
      print({ error: Array.isArray(error) ? error : { code: error?.code, reason: error?.reason ?? String(error) } });
      client.dispose().then(() => process.exit(0));
    },
    complete: () => {
      print({ complete: true });
      client.dispose().then(() => process.exit(0));
    },
  },
);

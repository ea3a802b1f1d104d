// Runs graphql-http's server audit (the GraphQL-over-HTTP spec's reference suite) against URL and prints
// one JSON line per audit: {"id", "name", "status": "ok" | "warn" | "error", "reason"}. Usage: node audit.mjs URL
import { auditServer } from "graphql-http";

const [url] = process.argv.slice(2);
for (const result of await auditServer({ url })) {
  process.stdout.write(
    JSON.stringify({ id: result.id, name: result.name, status: result.status, reason: result.reason ?? null }) + "\n",
  );
}

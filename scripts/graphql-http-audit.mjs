// Runs the GraphQL-over-HTTP audit suite of the npm package `graphql-http` (auditServer) against a
// live tongban server and prints one JSON line: {"ok": n, "warn": n, "error": n, "results": [...]}.
// Usage: node scripts/graphql-http-audit.mjs http://127.0.0.1:8000/graphql
// Exit status 0 when every audit is "ok", 1 otherwise (tests/test_graphql_http_audit.py reads it).
import { auditServer } from 'graphql-http';

const url = process.argv[2];
if (!url) {
  console.error('usage: node scripts/graphql-http-audit.mjs URL');
  process.exit(2);
}
const results = await auditServer({ url });
const counts = { ok: 0, warn: 0, error: 0 };
const details = [];
for (const result of results) {
  counts[result.status] += 1;
  const item = { id: result.id, name: result.name, status: result.status };
  if (result.status !== 'ok') {
    item.reason = result.reason;
    try {
      item.response = await result.response.text();
      item.responseStatus = result.response.status;
      item.contentType = result.response.headers.get('content-type');
    } catch {
      // the body may already have been read by the audit itself
    }
  }
  details.push(item);
}
console.log(JSON.stringify({ ...counts, results: details }));
process.exit(counts.warn === 0 && counts.error === 0 ? 0 : 1);

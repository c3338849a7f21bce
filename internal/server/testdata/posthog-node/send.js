// Sends events through the real posthog-node client to a collector, then
// shuts the client down, which flushes its queue. The conformance test in
// internal/server runs it as: node send.js INPUT.json, where INPUT.json
// contains {"host", "apiKey", "events": [{"event", "distinctId", "uuid",
// "properties"}]}. It exits with status 1 when the client reports an error.
const fs = require('node:fs');
const { PostHog } = require('posthog-node');

async function main() {
  const input = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
  // A batch size below the event count makes the client send several batches.
  const client = new PostHog(input.apiKey, { host: input.host, flushAt: 7, maxBatchSize: 7, flushInterval: 0 });
  const errors = [];
  client.on('error', (err) => errors.push(err));

  for (const e of input.events) {
    client.capture({ event: e.event, distinctId: e.distinctId, uuid: e.uuid, properties: e.properties });
  }
  await client.shutdown(10000);

  if (errors.length > 0) {
    console.error('posthog-node reported errors:', errors.map(String).join('; '));
    process.exit(1);
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});

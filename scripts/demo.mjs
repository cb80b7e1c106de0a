// Placeholder until the CLI lands (see README): says what the demo will do.
console.log(`[demo] not wired yet. When the gtc CLI lands, this will:
  1. start greentic-store-server on an embedded SQLite file in a temporary folder, and a dispatcher for "local"
  2. publish examples/hello-worker as v1 and v2, stage and warm both revisions (health-gated)
  3. send 100% to v1, then 90/10, then 100% to v2, printing each gtc command and the share observed through the router
  4. drain and archive v1, then stop everything it started`);

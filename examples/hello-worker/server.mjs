#!/usr/bin/env node
// hello-worker: the sample bundle of greentic.deployer.local-process. Plain Node ESM, no build step.
//
// Environment (set by the deployer):
//   PORT                    port to listen on, on 127.0.0.1 (0 = any)
//   GREENTIC_ENVIRONMENT, GREENTIC_TENANT, GREENTIC_DEPLOYMENT, GREENTIC_REVISION, GREENTIC_BUNDLE_DIGEST
// Injected failures, for tests:
//   HELLO_FAIL=health       never becomes healthy (/healthz answers 503)
//   HELLO_FAIL=start        exits with code 3 right away, after one line on stderr
//   HELLO_SIGTERM=exit      exits at once on SIGTERM, cutting in-flight requests (a worker without graceful stop)
// Routes:
//   GET /healthz            200 {"ok":true, revision, bundleDigest, inFlight, ...} once serving
//   GET /slow?ms=N          answers after N ms (at most 60000): an in-flight request for drain tests
//   anything else           200 {"hello":"world", revision, ...}
// Signals:
//   SIGTERM / SIGINT        stop accepting, finish in-flight requests, exit 0
//   SIGUSR2                 "changed behind the deployer's back": from now on report a different bundle digest
import { createServer } from 'node:http';

const env = process.env;
const identity = {
  environment: env.GREENTIC_ENVIRONMENT ?? '',
  tenant: env.GREENTIC_TENANT ?? '',
  deployment: env.GREENTIC_DEPLOYMENT ?? '',
  revision: env.GREENTIC_REVISION ?? '',
  bundleDigest: env.GREENTIC_BUNDLE_DIGEST ?? '',
};
const fail = env.HELLO_FAIL ?? '';
const log = (line) => process.stdout.write(`[hello-worker ${identity.revision}] ${line}\n`);

if (fail === 'start') {
  process.stderr.write(`[hello-worker ${identity.revision}] injected failure: HELLO_FAIL=start\n`);
  process.exit(3);
}

let inFlight = 0;
let stopping = false;

const server = createServer((req, res) => {
  const url = new URL(req.url ?? '/', 'http://worker');
  const send = (status, body) => {
    const text = JSON.stringify(body);
    res.writeHead(status, {
      'content-type': 'application/json',
      'content-length': Buffer.byteLength(text),
      ...(stopping ? { connection: 'close' } : {}),
    });
    res.end(text);
  };
  if (url.pathname === '/healthz') {
    if (fail === 'health') return send(503, { ok: false, ...identity, reason: 'injected failure HELLO_FAIL=health' });
    return send(200, { ok: true, ...identity, pid: process.pid, inFlight });
  }
  inFlight += 1;
  const done = () => {
    inFlight -= 1;
  };
  if (url.pathname === '/slow') {
    const ms = Math.min(Math.max(Number(url.searchParams.get('ms') ?? '1000') || 0, 0), 60_000);
    setTimeout(() => {
      send(200, { hello: 'world', ...identity, sleptMs: ms });
      done();
    }, ms);
    return undefined;
  }
  send(200, { hello: 'world', ...identity, path: url.pathname });
  done();
  return undefined;
});

function stop(signal) {
  if (stopping) return;
  if (signal === 'SIGTERM' && env.HELLO_SIGTERM === 'exit') {
    log(`SIGTERM: exiting at once (HELLO_SIGTERM=exit), ${inFlight} request(s) in flight`);
    process.exit(0);
  }
  stopping = true;
  log(`${signal}: stopping, ${inFlight} request(s) in flight`);
  server.close(() => {
    log('stopped');
    process.exit(0);
  });
  server.closeIdleConnections();
}
process.on('SIGTERM', () => stop('SIGTERM'));
process.on('SIGINT', () => stop('SIGINT'));
process.on('SIGUSR2', () => {
  identity.bundleDigest = `sha256:${'0'.repeat(63)}1`;
  log('SIGUSR2: now reporting a different bundle digest');
});

server.listen(Number(env.PORT ?? 0), '127.0.0.1', () => {
  const address = server.address();
  log(`listening on 127.0.0.1:${typeof address === 'object' && address ? address.port : '?'}`);
});

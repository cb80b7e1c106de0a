// A minimal upstream worker for the bench: answers every request with a small JSON body, keep-alive.
import { createServer } from 'node:http';

const name = process.argv[2] ?? 'worker';
const body = JSON.stringify({ worker: name, ok: true });
const server = createServer((req, res) => {
  req.resume();
  res.writeHead(200, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(body),
    'x-worker': name,
  });
  res.end(body);
});
server.keepAliveTimeout = 65_000;
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`${server.address().port}\n`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));

// The floor for a Node proxy on this machine: undici keep-alive pool + node:http, no routing, no metrics.
// The bench shows it next to the dispatcher so the cost of routing is visible apart from Node's own.
import { createServer } from 'node:http';
import { Agent } from 'undici';

const upstream = new URL(process.argv[2]);
const agent = new Agent({ connections: 128, keepAliveTimeout: 30_000 });
const server = createServer((req, res) => {
  agent.stream(
    {
      origin: upstream.origin,
      path: req.url,
      method: req.method,
      headers: req.headers['content-length'] ? req.headers : undefined,
      body: null,
      opaque: res,
    },
    ({ statusCode, headers, opaque }) => {
      delete headers.connection;
      delete headers['keep-alive'];
      opaque.writeHead(statusCode, headers);
      return opaque;
    },
    (err, data) => {
      if (err && !data.opaque.headersSent) {
        data.opaque.writeHead(502);
        data.opaque.end();
      }
    },
  );
});
server.keepAliveTimeout = 65_000;
server.listen(0, '127.0.0.1', () => process.stdout.write(`${server.address().port}\n`));
process.on('SIGTERM', () => process.exit(0));

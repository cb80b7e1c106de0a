// The reference: node:http in front of an undici keep-alive pool, one dispatch handler per request writing the
// upstream's answer straight into the response, no routing, no metrics, no header rewriting beyond the hop-by-hop
// pair. It was the floor for a Node proxy until the dispatcher got its own upstream client (README: "Why not
// undici"); the bench keeps it so that choice stays measured on every run. Like the dispatcher, it sends a small
// sized body's last chunk as a latin1 string with `end`, so node:http writes headers and body in one plain write.
import { createServer } from 'node:http';
import { Agent } from 'undici';

const upstream = new URL(process.argv[2]);
const agent = new Agent({ connections: 128, keepAliveTimeout: 30_000 });

class Handler {
  constructor(res) {
    this.res = res;
    this.remaining = -1;
  }
  onRequestStart() {}
  onResponseStart(_controller, statusCode, headers) {
    delete headers.connection;
    delete headers['keep-alive'];
    if (typeof headers['content-length'] === 'string') this.remaining = Number(headers['content-length']) || -1;
    this.res.writeHead(statusCode, headers);
  }
  onResponseData(controller, chunk) {
    if (this.remaining === chunk.length && chunk.length <= 16 * 1024) {
      this.remaining = 0;
      this.res.end(chunk.toString('latin1'), 'latin1');
      return;
    }
    if (this.remaining > 0) this.remaining -= chunk.length;
    if (!this.res.write(chunk)) {
      controller.pause();
      this.res.once('drain', () => controller.resume());
    }
  }
  onResponseEnd() {
    if (this.remaining !== 0) this.res.end();
  }
  onResponseError() {
    if (this.res.headersSent) this.res.destroy();
    else this.res.writeHead(502).end();
  }
}

const server = createServer((req, res) => {
  agent.dispatch(
    { origin: upstream.origin, path: req.url, method: req.method, headers: req.rawHeaders, body: null },
    new Handler(res),
  );
});
server.keepAliveTimeout = 65_000;
server.listen(0, '127.0.0.1', () => process.stdout.write(`${server.address().port}\n`));
process.on('SIGTERM', () => process.exit(0));

// Benign notification stream over SSE (node:http server, node:http client): no MCP.
//   node benign_notify.mjs server --port N
//   node benign_notify.mjs client --url http://host:N/events
import http from 'node:http';
import { parseArgs } from 'node:util';

const { values: opt, positionals } = parseArgs({
  allowPositionals: true,
  options: { port: { type: 'string', default: '8090' }, url: { type: 'string' }, count: { type: 'string', default: '6' } },
});

const NOTES = [
  { type: 'build', project: 'payments-api', status: 'passed', branch: 'main' },
  { type: 'comment', ticket: 'OPS-1412', author: 'dana', text: 'Rolled back the canary.' },
  { type: 'deploy', service: 'search', version: '4.18.2', env: 'staging' },
  { type: 'alert', severity: 'warning', message: 'Disk usage at 81% on db-3' },
  { type: 'build', project: 'web-frontend', status: 'failed', branch: 'feature/cart' },
  { type: 'mention', channel: '#release', author: 'lee', text: 'Freeze starts Friday.' },
];

function server() {
  http.createServer((req, res) => {
    if (req.url === '/' || req.url === '/index.html') {
      res.writeHead(200, { 'content-type': 'text/html' });
      res.end('<!doctype html><script>new EventSource("/events").onmessage = (e) => console.log(e.data)</script>');
      return;
    }
    if (!req.url.startsWith('/events')) { res.writeHead(404); res.end(); return; }
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' });
    res.write('retry: 5000\n\n');
    let i = 0;
    const timer = setInterval(() => {
      const note = NOTES[i % NOTES.length];
      res.write(`id: ${1000 + i}\nevent: notification\ndata: ${JSON.stringify(note)}\n\n`);
      if (++i % 3 === 0) res.write(': keep-alive\n\n');
    }, 40);
    req.on('close', () => clearInterval(timer));
  }).listen(Number(opt.port), '127.0.0.1', () => console.error(`listening on ${opt.port}`));
}

function client() {
  const want = Number(opt.count);
  http.get(opt.url.replace(/\/events$/, '/'), (r) => r.resume().on('end', () => {
    const req = http.get(opt.url, { headers: { accept: 'text/event-stream', 'last-event-id': '999' } }, (res) => {
      let seen = 0;
      res.setEncoding('utf8');
      res.on('data', (chunk) => {
        seen += (chunk.match(/^event: notification$/gm) || []).length;
        if (seen >= want) { console.log(`received ${seen} notifications`); req.destroy(); }
      });
    });
  }));
}

positionals[0] === 'server' ? server() : client();

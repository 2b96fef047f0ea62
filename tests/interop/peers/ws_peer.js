// A peer built on Node's `ws` package, run in a subprocess by tests/interop/test_ws_node.py.
//
//   node ws_peer.js server [--no-compression]      prints "PORT <n>", serves until killed
//   node ws_peer.js client URL [--no-compression]  prints "EXTENSIONS <header>" once open,
//                                                  "CLOSED <code> <reason>" at the end
//
// Both roles echo every message, except text commands sent by the side under test:
//   !close CODE REASON          close with this code and reason
//   !fragments COUNT SIZE KIND  send one message in COUNT fragments of SIZE bytes
//   !ping PAYLOAD               ping, and on the pong answer "pong PAYLOAD"
//   !closed PATH                (server) how the last connection on PATH ended, as JSON
'use strict';

const { WebSocket, WebSocketServer } = require('ws');

const args = process.argv.slice(2);
const role = args[0];
const compression = !args.includes('--no-compression');
const MAX_PAYLOAD = 64 * 1024 * 1024;
const closed = new Map();

function runCommands(ws) {
  ws.on('message', (data, isBinary) => {
    const text = isBinary ? null : data.toString('utf8');
    if (text === null || !text.startsWith('!')) {
      ws.send(isBinary ? data : text, { binary: isBinary });
      return;
    }
    const [command, ...rest] = text.split(' ');
    if (command === '!close') {
      ws.close(Number(rest[0]), rest.slice(1).join(' '));
    } else if (command === '!fragments') {
      const [count, size, kind] = [Number(rest[0]), Number(rest[1]), rest[2]];
      for (let i = 0; i < count; i++) {
        const chunk = kind === 'text'
          ? String.fromCharCode(0x61 + (i % 26)).repeat(size)
          : Buffer.alloc(size, i % 256);
        ws.send(chunk, { binary: kind !== 'text', fin: i === count - 1 });
      }
    } else if (command === '!ping') {
      ws.once('pong', (payload) => ws.send(`pong ${payload.toString('utf8')}`));
      ws.ping(rest[0]);
    } else if (command === '!closed') {
      ws.send(JSON.stringify(closed.get(rest[0]) ?? null));
    } else {
      ws.send(`unknown command ${command}`);
    }
  });
}

if (role === 'server') {
  const server = new WebSocketServer({
    host: '127.0.0.1',
    port: 0,
    perMessageDeflate: compression,
    maxPayload: MAX_PAYLOAD,
  });
  server.on('listening', () => {
    process.stdout.write(`PORT ${server.address().port}\n`);
  });
  server.on('connection', (ws, request) => {
    ws.on('close', (code, reason) => closed.set(request.url, [code, reason.toString('utf8')]));
    runCommands(ws);
  });
} else {
  const ws = new WebSocket(args[1], { perMessageDeflate: compression, maxPayload: MAX_PAYLOAD });
  ws.on('open', () => {
    process.stdout.write(`EXTENSIONS ${ws.extensions}\n`);
  });
  ws.on('error', (error) => {
    process.stderr.write(`error: ${error}\n`);
  });
  ws.on('close', (code, reason) => {
    process.stdout.write(`CLOSED ${code} ${reason.toString('utf8')}\n`, () => process.exit(0));
  });
  runCommands(ws);
}

// A WebSocket-over-HTTP/2 peer (RFC 8441 extended CONNECT) built on Node's `http2` module, with
// the `ws` package doing the WebSocket framing over the Http2Stream. Run in a subprocess by the
// interop tests.
//
//   node h2_ws_peer.js server [--tls CERT KEY] [--no-compression]
//       prints "PORT <n>", then "CONNECT <path>" for each extended CONNECT; serves until killed.
//       h2c with prior knowledge, or TLS with ALPN h2 when --tls is given. Other requests get
//       200 "plain\n"; a CONNECT without sec-websocket-version 13 gets 400.
//   node h2_ws_peer.js client URL [--tls-insecure] [--no-compression] [--say TEXT]
//       URL is http://HOST:PORT/path (h2c prior knowledge) or https://... Prints
//       "SETTINGS enableConnectProtocol=<bool>" (then "NO-CONNECT-PROTOCOL" and exits 2 if false),
//       "STATUS <code>" (exits 1 unless 200), "EXTENSIONS <header>", and "CLOSED <code> <reason>"
//       at the end (exit 0). With --say, sends TEXT once open, prints "GOT <message>" for the
//       first message received, then sends "!close 1000 bye" (for self-testing).
//
// Both roles echo every message, except text commands sent by the side under test:
//   !close CODE REASON          close with this code and reason
//   !fragments COUNT SIZE KIND  send one message in COUNT fragments of SIZE bytes
//   !ping PAYLOAD               ping, and on the pong answer "pong PAYLOAD"
'use strict';

const fs = require('fs');
const http2 = require('http2');
// ws's package.json "exports" hides 'ws/lib/*', but index.js re-exports these on WebSocket.
const WebSocket = require('ws');
const { PerMessageDeflate, extension } = WebSocket;

const args = process.argv.slice(2);
const role = args[0];
const compression = !args.includes('--no-compression');
const MAX_PAYLOAD = 64 * 1024 * 1024;
const { NGHTTP2_CANCEL } = http2.constants;

function option(name) {
  const i = args.indexOf(name);
  return i === -1 ? undefined : args[i + 1];
}

function print(line, callback) {
  process.stdout.write(`${line}\n`, callback);
}

function runCommands(ws, hook) {
  ws.on('message', (data, isBinary) => {
    if (hook && hook(data, isBinary)) return;
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
    } else {
      ws.send(`unknown command ${command}`);
    }
  });
}

// Runs a ws WebSocket over an Http2Stream, the way WebSocketServer.completeUpgrade (server) and
// initAsClient's 'upgrade' handler (client) do over a net.Socket: `new WebSocket(null, ...)`
// builds an unconnected server-role socket; `_isServer = false` makes it mask its frames and
// expect unmasked ones (Receiver reads it in setSocket, send/ping/close read it per call).
function wsOverStream(stream, deflate, isServer) {
  const ws = new WebSocket(null, undefined, {
    autoPong: true, closeTimeout: 30000, maxPendingAutoPongs: 60,
  });
  ws._isServer = isServer;
  if (deflate) ws._extensions[PerMessageDeflate.extensionName] = deflate;

  // setSocket calls setTimeout(0) (Http2Stream has it) and setNoDelay() if present.
  stream.setNoDelay = () => stream;
  // ws ends a clean close with socket.end(), which on an Http2Stream sends END_STREAM; the
  // stream then closes (and emits 'close', ending the WebSocket) once the peer's END_STREAM
  // arrives too. ws calls socket.destroy() on a socket error, terminate() or the close timeout;
  // a bare Http2Stream.destroy() would send RST_STREAM(NO_ERROR), so make that CANCEL.
  const destroy = stream.destroy;
  stream.destroy = function (err) {
    if (err == null && !this.closed) this.close(NGHTTP2_CANCEL);
    return destroy.call(this, err);
  };

  ws.on('error', (error) => process.stderr.write(`error: ${error}\n`));
  ws.setSocket(stream, Buffer.alloc(0), {
    allowSynchronousEvents: true,
    maxBufferedChunks: 256 * 1024,
    maxFragments: 16 * 1024,
    maxPayload: MAX_PAYLOAD,
    skipUTF8Validation: false,
  });
  return ws;
}

function serve() {
  const tls = args.indexOf('--tls');
  const settings = { enableConnectProtocol: true };
  const server = tls === -1
    ? http2.createServer({ settings })
    : http2.createSecureServer({
      cert: fs.readFileSync(args[tls + 1]),
      key: fs.readFileSync(args[tls + 2]),
      ALPNProtocols: ['h2'],
      settings,
    });
  server.on('sessionError', () => {});
  server.on('session', (session) => session.on('error', () => {}));
  server.on('stream', (stream, headers) => {
    stream.on('error', () => {});
    if (headers[':method'] !== 'CONNECT' || headers[':protocol'] !== 'websocket') {
      stream.respond({ ':status': 200, 'content-type': 'text/plain' });
      stream.end('plain\n');
      return;
    }
    print(`CONNECT ${headers[':path']}`);
    if (headers['sec-websocket-version'] !== '13') {
      stream.respond({ ':status': 400 }, { endStream: true });
      return;
    }
    let deflate = null;
    const offer = headers['sec-websocket-extensions'];
    if (compression && offer !== undefined) {
      try {
        const offers = extension.parse(offer)[PerMessageDeflate.extensionName];
        if (offers) {
          deflate = new PerMessageDeflate({ isServer: true, maxPayload: MAX_PAYLOAD });
          deflate.accept(offers);
        }
      } catch (err) {
        stream.respond({ ':status': 400 }, { endStream: true });
        return;
      }
    }
    const response = { ':status': 200 };
    if (deflate) {
      response['sec-websocket-extensions'] =
        extension.format({ [PerMessageDeflate.extensionName]: [deflate.params] });
    }
    stream.respond(response);
    runCommands(wsOverStream(stream, deflate, true));
  });
  server.listen(0, '127.0.0.1', () => print(`PORT ${server.address().port}`));
}

function connect() {
  const url = new URL(args[1]);
  const say = option('--say');
  const session = http2.connect(url, { rejectUnauthorized: !args.includes('--tls-insecure') });
  const fail = (what) => (error) => {
    process.stderr.write(`${what} error: ${error}\n`);
    process.exit(1);
  };
  session.on('error', fail('session'));
  session.once('remoteSettings', (remote) => {
    const enabled = remote.enableConnectProtocol === true;
    print(`SETTINGS enableConnectProtocol=${enabled}`);
    if (!enabled) {
      print('NO-CONNECT-PROTOCOL', () => process.exit(2));
      return;
    }
    const deflate = compression
      ? new PerMessageDeflate({ isServer: false, maxPayload: MAX_PAYLOAD })
      : null;
    const headers = {
      ':method': 'CONNECT',
      ':protocol': 'websocket',
      ':scheme': url.protocol === 'https:' ? 'https' : 'http',
      ':path': url.pathname + url.search,
      ':authority': url.host,
      'sec-websocket-version': '13',
    };
    if (deflate) {
      headers['sec-websocket-extensions'] =
        extension.format({ [PerMessageDeflate.extensionName]: deflate.offer() });
    }
    const stream = session.request(headers, { endStream: false });
    stream.on('error', fail('stream'));
    stream.on('response', (response) => {
      const status = response[':status'];
      print(`STATUS ${status}`);
      if (status !== 200) {
        stream.close(NGHTTP2_CANCEL);
        session.close(() => process.exit(1));
        return;
      }
      const accepted = response['sec-websocket-extensions'];
      print(`EXTENSIONS ${accepted ?? ''}`);
      let negotiated = null;
      if (accepted !== undefined) {
        try {
          const params = extension.parse(accepted);
          const names = Object.keys(params);
          if (!deflate || names.length !== 1 || names[0] !== PerMessageDeflate.extensionName) {
            throw new Error('extension not offered');
          }
          deflate.accept(params[PerMessageDeflate.extensionName]);
          negotiated = deflate;
        } catch (err) {
          fail('sec-websocket-extensions')(err);
        }
      }
      stream.removeAllListeners('error');
      const ws = wsOverStream(stream, negotiated, false);
      ws.on('close', (code, reason) => {
        print(`CLOSED ${code} ${reason.toString('utf8')}`, () => {
          session.close(() => process.exit(0));
        });
      });
      let first = true;
      runCommands(ws, say === undefined ? null : (data, isBinary) => {
        if (!first) return false;
        first = false;
        print(`GOT ${isBinary ? data.toString('hex') : data.toString('utf8')}`);
        ws.send('!close 1000 bye');
        return true;
      });
      if (say !== undefined) ws.send(say);
    });
  });
}

if (role === 'server') serve();
else if (role === 'client') connect();
else {
  process.stderr.write('usage: h2_ws_peer.js server|client ...\n');
  process.exit(64);
}

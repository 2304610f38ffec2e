// Baseline: Node socket.io 4 with connectionStateRecovery, fan-out through rooms.
//
// Events mirror the protocol-v1 subset the load generator uses: "sub" joins the
// topic's room and acks {op: "ok", topic, seq}; "pub" numbers the message, emits
// "msg" ({op, topic, seq, prev, ts, data}) to the room, then acks {op: "ack", seq}.
// connectionStateRecovery keeps emitted packets in memory so a client that comes
// back (same server process) with its pid and last offset gets what it missed.
//
// Run: node server.js PORT   (socket.io at /socket.io/, health at /health)
"use strict";

const http = require("http");
const { Server } = require("socket.io");

const port = Number(process.argv[2] || 8767);

const server = http.createServer((req, res) => {
  if (req.url === "/health") {
    res.writeHead(200, { "content-type": "text/plain" });
    res.end("ok");
    return;
  }
  res.writeHead(404);
  res.end();
});

const io = new Server(server, {
  transports: ["websocket"],
  serveClient: false,
  perMessageDeflate: false,
  connectionStateRecovery: {
    maxDisconnectionDuration: 2 * 60 * 1000,
    skipMiddlewares: true,
  },
});

const seqs = new Map();

io.on("connection", (socket) => {
  socket.on("sub", (request, ack) => {
    socket.join(request.topic);
    if (typeof ack === "function") {
      ack({ op: "ok", topic: request.topic, seq: seqs.get(request.topic) || 0 });
    }
  });
  socket.on("pub", (request, ack) => {
    const topic = request.topic;
    const prev = seqs.get(topic) || 0;
    const seq = prev + 1;
    seqs.set(topic, seq);
    io.to(topic).emit("msg", {
      op: "msg",
      topic,
      seq,
      prev,
      ts: Date.now(),
      data: request.data,
    });
    if (typeof ack === "function") {
      ack({ op: "ack", seq, dup: false });
    }
  });
});

server.listen(port, "127.0.0.1");

for (const signal of ["SIGTERM", "SIGINT"]) {
  process.on(signal, () => {
    io.close();
    process.exit(0);
  });
}

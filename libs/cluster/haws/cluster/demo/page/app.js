// The haws demo chat: rooms with history, presence, and a connection state a
// user can watch. Everything it knows about delivery comes from @haws/client:
// the page renders each message the SDK hands it and never deduplicates itself.
"use strict";

(async () => {
  const params = new URLSearchParams(location.search);
  const config = await (await fetch("/config.json", { cache: "no-store" })).json();
  const $ = (id) => document.getElementById(id);
  const store = window.sessionStorage;
  const name = params.get("name") || store.getItem("demo.name") || `guest-${Math.random().toString(36).slice(2, 6)}`;
  store.setItem("demo.name", name);
  const LOG_KEEP = 500;

  const getToken =
    config.auth === "jwt"
      ? async () => {
          const ttl = params.get("ttl") || "300";
          const res = await fetch(`/token?user=${encodeURIComponent(name)}&ttl=${ttl}`, { cache: "no-store" });
          if (!res.ok) throw new Error(`token endpoint answered ${res.status}`);
          demo.tokens++;
          return (await res.json()).token;
        }
      : undefined;

  const client = new haws.Client(params.getAll("endpoint").length ? params.getAll("endpoint") : config.endpoints, {
    getToken,
    storageKey: "demo.haws",
  });

  // What tests and the curious read: every state change, every delivered seq, recoveries.
  const demo = (window.hawsDemo = {
    client,
    name,
    transitions: [],
    delivered: {},
    recovered: [],
    gaps: [],
    dropped: [],
    tokens: 0,
    seqs: (room) => (demo.delivered[room] || []).slice(),
    publish: (room, text) => send(room, text),
  });

  // ---- connection state, told quietly ------------------------------------------------
  function showState(s) {
    const el = $("status");
    el.dataset.state = s.state;
    let text = "";
    if (s.state === "connected") text = `connected to ${client.node}`;
    else if (s.state === "connecting") text = s.reconnecting ? "connection lost, reconnecting…" : "connecting…";
    else if (s.state === "disconnected") text = s.reason === "offline" ? "offline: messages will be sent when you are back" : "disconnected";
    else text = `stopped: ${s.error ? s.error.message : s.reason}`;
    el.textContent = text;
    el.title = s.reason || "";
  }
  client.on("state", (s) => {
    demo.transitions.push({ state: s.state, reason: s.reason, code: s.code ?? null, at: Date.now() });
    showState(s);
    renderNode();
  });
  client.on("dropped", (d) => {
    demo.dropped.push({ mid: d.mid, code: d.error.code });
    const li = document.querySelector(`#messages li[data-mid="${d.mid}"]`);
    if (li) {
      li.classList.replace("pending", "failed");
      li.title = d.error.message;
    }
  });
  client.on("nodes", renderNodes);

  // ---- rooms -------------------------------------------------------------------------
  const rooms = new Map();
  let current = null;

  function logKey(room) {
    return `demo.log.${room}`;
  }

  function join(room) {
    if (rooms.has(room)) return rooms.get(room);
    const topic = `chat.${room}`;
    const log = JSON.parse(store.getItem(logKey(room)) || "[]");
    demo.delivered[room] = log.map((m) => m.seq);
    const sub = client.subscribe(topic, { since: 0, presence: true });
    const presence = new haws.Presence(sub);
    const entry = { room, topic, sub, presence, log };
    rooms.set(room, entry);
    sub.on("message", (m) => {
      demo.delivered[room].push(m.seq);
      const item = { seq: m.seq, who: m.data?.name ?? m.from ?? "?", text: m.data?.text ?? JSON.stringify(m.data), mid: m.mid ?? null };
      log.push(item);
      if (log.length > LOG_KEEP) log.splice(0, log.length - LOG_KEEP);
      store.setItem(logKey(room), JSON.stringify(log));
      if (current === entry) renderMessage(item);
    });
    sub.on("recovered", (r) => {
      demo.recovered.push({ room, ...r, at: Date.now() });
      if (!r.complete && current === entry) notice(`messages ${r.gap.from}–${r.gap.to} are no longer retained`);
    });
    sub.on("gap", (g) => {
      demo.gaps.push(g);
      if (current === entry) notice(`a gap after message ${g.expected} could not be filled`);
    });
    sub.on("error", (e) => current === entry && notice(`room unavailable: ${e.message}`));
    presence.on("change", () => current === entry && renderMembers());
    return entry;
  }

  function open(room) {
    current = join(room);
    renderRooms();
    const list = $("messages");
    list.replaceChildren();
    for (const item of current.log) renderMessage(item);
    renderMembers();
    history.replaceState(null, "", `?${new URLSearchParams({ ...Object.fromEntries(params), room })}`);
  }

  // ---- rendering ---------------------------------------------------------------------
  function renderRooms() {
    const ul = $("rooms");
    ul.replaceChildren(
      ...config.rooms.map((room) => {
        const li = document.createElement("li");
        const button = document.createElement("button");
        button.textContent = `# ${room}`;
        button.setAttribute("aria-current", String(current?.room === room));
        button.onclick = () => open(room);
        li.append(button);
        return li;
      }),
    );
  }

  function renderMessage(item) {
    const list = $("messages");
    const pending = item.mid && list.querySelector(`li[data-mid="${item.mid}"]`);
    const li = pending || document.createElement("li");
    li.className = item.seq ? "" : "pending";
    if (item.seq) li.dataset.seq = item.seq;
    if (item.mid) li.dataset.mid = item.mid;
    const who = document.createElement("span");
    who.className = "who";
    who.textContent = item.who;
    const seq = document.createElement("span");
    seq.className = "seq";
    seq.textContent = item.seq ? `#${item.seq}` : "sending…";
    li.replaceChildren(who, document.createTextNode(item.text), seq);
    if (item.seq) {
      // Stored messages stand in seq order, above what is still being sent: one's own
      // message shows when sent, and takes its place once it is stored (others' may
      // have been stored before it while it was on its way).
      const after = [...list.children].find(
        (other) =>
          other !== li &&
          (other.classList.contains("pending") ||
            other.classList.contains("failed") ||
            Number(other.dataset.seq) > item.seq),
      );
      list.insertBefore(li, after ?? null);
    } else if (!pending) {
      list.append(li);
    }
    list.scrollTop = list.scrollHeight;
  }

  function notice(text) {
    const li = document.createElement("li");
    li.className = "notice";
    li.textContent = text;
    $("messages").append(li);
  }

  function renderMembers() {
    const members = current ? current.presence.members : [];
    $("members").replaceChildren(
      ...members.map((m) => {
        const li = document.createElement("li");
        li.textContent = m.user || `${m.session.slice(0, 8)}…`;
        return li;
      }),
    );
  }

  function renderNode() {
    $("node").textContent = client.state === "connected" ? `${client.node} (session ${client.session.slice(0, 8)}…)` : "–";
  }

  function renderNodes(nodes) {
    $("nodes").replaceChildren(
      ...nodes.map((n) => {
        const li = document.createElement("li");
        li.textContent = `${n.node}  ${n.connections} conn.`;
        li.title = n.url;
        if (n.node === client.node) li.className = "current";
        return li;
      }),
    );
  }

  // ---- sending -----------------------------------------------------------------------
  async function send(room, text) {
    const entry = join(room);
    const mid = `${name}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 6)}`;
    if (current === entry) renderMessage({ seq: 0, who: name, text, mid });
    return client.publish(entry.topic, { name, text }, { mid });
  }

  $("composer").onsubmit = (e) => {
    e.preventDefault();
    const input = $("text");
    const text = input.value.trim();
    if (!text || !current) return;
    input.value = "";
    send(current.room, text).catch(() => {});
  };

  open(params.get("room") || config.rooms[0]);
  renderNodes(config.nodes.map((n) => ({ ...n, connections: 0 })));
  client.connect().catch(() => {});
})();

// The session's WebSocket: hello{last_seq} → welcome, events in seq order,
// edits acked after commit, automatic reconnect with backoff, and an offline
// queue whose edits are sent in order once the socket is back.

const BACKOFF_START_MS = 300;
const BACKOFF_MAX_MS = 5000;
const PING_EVERY_MS = 20000;
const PONG_TIMEOUT_MS = 10000;

// Edits that would act twice if sent twice: each undo reverses one more operation.
const UNREPEATABLE = new Set(["undo", "redo"]);

// Close codes after which reconnecting cannot help.
const FINAL_CLOSES = {
  4401: "You are signed out. Sign in again to keep working.",
  4403: "You no longer have access to this session.",
};

export class EditRefused extends Error {
  /** `current`: what the server holds now, when a stale version was refused. */
  constructor(code, message, current = null) {
    super(message || "The server refused that edit.");
    this.code = code;
    this.current = current;
  }
}

export class LiveSocket {
  /**
   * handlers: onEvent(frame), onWelcome(frame), onPresence(frame), onJob(job), onState(state, detail),
   * onResync(), onGap(fromSeq) → Promise<events[]>, onNotice(message).
   */
  constructor(sessionId, { lastSeq = 0, ...handlers } = {}) {
    this.url = `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/ws/sessions/${sessionId}/`;
    this.lastSeq = lastSeq;
    this.handlers = handlers;
    this.ws = null;
    this.ready = false; // welcome received on the current socket
    this.attempt = 0;
    this.nextId = 1;
    this.queue = []; // edits waiting for a ready socket, in order
    this.inflight = new Map(); // id → edit sent, not yet acked
    this.stopped = false;
    this.timer = null;
    this.pingTimer = null;
    this.pongDeadline = null;
    this.focusImage = null;
    this.clientId = null;
  }

  connect() {
    this.stopped = false;
    clearTimeout(this.timer);
    this._state(this.attempt ? "reconnecting" : "connecting");
    let ws;
    try {
      ws = new WebSocket(this.url);
    } catch {
      this._scheduleReconnect();
      return;
    }
    this.ws = ws;
    this.ready = false;
    ws.onopen = () => ws.send(JSON.stringify({ type: "hello", last_seq: this.lastSeq }));
    ws.onmessage = (msg) => this._receive(ws, msg.data);
    ws.onclose = (ev) => this._closed(ws, ev);
    ws.onerror = () => {}; // onclose follows and decides
  }

  close() {
    this.stopped = true;
    clearTimeout(this.timer);
    this._stopPing();
    if (this.ws) this.ws.close(1000);
  }

  get pending() {
    return this.queue.length + this.inflight.size;
  }

  /** Send an edit; resolves with the ack's seq, rejects with EditRefused. Queued while offline. */
  edit(op, fields) {
    const frame = { type: "edit", id: `c-${this.nextId++}`, op, ...fields };
    return new Promise((resolve, reject) => {
      const entry = { frame, resolve, reject };
      if (this.ready && this.queue.length === 0) this._sendEdit(entry);
      else {
        this.queue.push(entry);
        this._state(this.ready ? "online" : "offline", { queued: this.pending });
      }
    });
  }

  /** Tell the others which image this client is looking at. */
  focus(imageId) {
    this.focusImage = imageId;
    if (this.ready) this._send({ type: "focus", image_id: imageId });
  }

  _sendEdit(entry) {
    this.inflight.set(entry.frame.id, entry);
    this._send(entry.frame);
  }

  _send(frame) {
    if (this.ws && this.ws.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(frame));
  }

  _receive(ws, data) {
    if (ws !== this.ws) return;
    this.pongDeadline = null;
    let frame;
    try {
      frame = JSON.parse(data);
    } catch {
      return;
    }
    switch (frame.type) {
      case "welcome":
        this._welcome(frame);
        break;
      case "event":
        this._enqueueEvents([frame]);
        break;
      case "events":
        this._enqueueEvents(frame.events || []);
        break;
      case "ack":
        this._ack(frame);
        break;
      case "error":
        this._error(frame);
        break;
      case "presence":
        this.handlers.onPresence?.(frame);
        break;
      case "job":
        this.handlers.onJob?.(frame.job);
        break;
      case "resync":
        this._resync();
        break;
      case "shutdown":
        // The server is going away on purpose: come back after its hint.
        this.shutdownDelay = Math.max(0, Number(frame.reconnect_after_ms) || 0);
        this._state("reconnecting", { reason: "The server is restarting." });
        break;
      default:
        break; // pong and future frame types
    }
  }

  _welcome(frame) {
    this.ready = true;
    this.attempt = 0;
    this.shutdownDelay = null;
    this.clientId = frame.client_id;
    this.handlers.onWelcome?.(frame);
    this._startPing();
    if (this.focusImage !== null) this._send({ type: "focus", image_id: this.focusImage });
    // Edits sent but never acked may or may not have committed; the ones we
    // resend are idempotent (add/remove/status) or version-checked (set). An
    // undo is neither: the replayed events show whether it happened.
    const resend = [];
    for (const entry of this.inflight.values()) {
      if (!UNREPEATABLE.has(entry.frame.op)) resend.push(entry);
      else {
        const words = `The connection dropped before the ${entry.frame.op} was confirmed; check the tags before trying again.`;
        entry.reject(new EditRefused("unconfirmed", words));
      }
    }
    this.inflight.clear();
    const queued = this.queue.splice(0);
    for (const entry of [...resend, ...queued]) this._sendEdit(entry);
    this._state("online", { queued: this.pending });
  }

  _enqueueEvents(frames) {
    // One chain keeps events in order even while a gap is being filled.
    this.chain = (this.chain || Promise.resolve()).then(() => this._events(frames));
  }

  async _events(frames) {
    for (const frame of frames) {
      if (typeof frame.seq !== "number" || frame.seq <= this.lastSeq) continue; // duplicate
      if (frame.seq > this.lastSeq + 1 && this.handlers.onGap) {
        // Never skip an event: fetch the missing ones from the log first.
        try {
          const missing = await this.handlers.onGap(this.lastSeq, frame.seq);
          for (const old of missing) if (old.seq > this.lastSeq && old.seq < frame.seq) this._apply(old);
        } catch {
          this._resync();
          return;
        }
      }
      if (frame.seq > this.lastSeq) this._apply(frame);
    }
  }

  _apply(frame) {
    this.lastSeq = frame.seq;
    this.handlers.onEvent?.(frame);
  }

  _ack(frame) {
    const entry = this.inflight.get(frame.id);
    if (!entry) return;
    this.inflight.delete(frame.id);
    entry.resolve(frame.seq);
    this._state("online", { queued: this.pending });
  }

  _error(frame) {
    const entry = frame.id ? this.inflight.get(frame.id) : null;
    if (entry) {
      this.inflight.delete(frame.id);
      entry.reject(new EditRefused(frame.code, frame.message, frame.current || null));
      this._state("online", { queued: this.pending });
    } else if (frame.message) {
      this.handlers.onNotice?.(frame.message);
    }
  }

  _resync() {
    this.handlers.onResync?.();
  }

  _closed(ws, ev) {
    if (ws !== this.ws) return;
    this.ready = false;
    this.ws = null;
    this._stopPing();
    if (this.stopped) return;
    const final = FINAL_CLOSES[ev.code];
    if (final) {
      this._state("closed", { reason: final });
      for (const entry of [...this.inflight.values(), ...this.queue.splice(0)]) {
        entry.reject(new EditRefused("closed", final));
      }
      this.inflight.clear();
      return;
    }
    this._scheduleReconnect();
  }

  _scheduleReconnect() {
    this.attempt += 1;
    let delay = Math.min(BACKOFF_MAX_MS, BACKOFF_START_MS * 2 ** (this.attempt - 1));
    if (this.shutdownDelay != null) delay = Math.max(this.shutdownDelay, BACKOFF_START_MS);
    delay = delay * (0.75 + Math.random() * 0.5); // jitter: don't all come back at once
    this._state("offline", { queued: this.pending, retryInMs: delay });
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.connect(), delay);
  }

  _startPing() {
    this._stopPing();
    this.pingTimer = setInterval(() => {
      if (this.pongDeadline && Date.now() > this.pongDeadline) {
        this.ws?.close(4000); // silent server: treat as dropped
        return;
      }
      this._send({ type: "ping" });
      this.pongDeadline = Date.now() + PONG_TIMEOUT_MS;
    }, PING_EVERY_MS);
  }

  _stopPing() {
    clearInterval(this.pingTimer);
    this.pingTimer = null;
    this.pongDeadline = null;
  }

  _state(state, detail = {}) {
    this.handlers.onState?.(state, detail);
  }
}

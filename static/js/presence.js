// Who is online and which image each person is looking at: avatars in the
// top bar and badges on thumbnails.

import { hueOf } from "./grid.js";

export class Presence {
  constructor(root, { me, onChange }) {
    this.root = root;
    this.me = me;
    this.onChange = onChange;
    this.clients = new Map(); // client_id → {user, image_id}
    this.myClientId = null;
  }

  /** The full list from `welcome`. */
  reset(present, myClientId) {
    this.myClientId = myClientId;
    this.clients = new Map();
    for (const p of present || []) this.clients.set(p.client_id, entry(p));
    this.render();
  }

  /** A `presence` frame: join, leave or focus (or a full `present` list). */
  apply(frame) {
    if (Array.isArray(frame.present)) return this.reset(frame.present, this.myClientId);
    const action = frame.action || frame.event || frame.change || frame.kind || frame.state || "";
    const id = frame.client_id;
    if (id === undefined) return;
    if (/leave|left|gone|disconnect/i.test(action)) this.clients.delete(id);
    else {
      const update = entry(frame);
      if (!update.user) delete update.user; // a focus change may name only the client
      if (!("image_id" in frame)) delete update.image_id;
      this.clients.set(id, { ...this.clients.get(id), ...update });
    }
    this.render();
  }

  /** Names of the other people looking at this image. */
  usersOn(imageId) {
    const names = new Set();
    for (const [id, c] of this.clients) if (c.image_id === imageId && id !== this.myClientId) names.add(c.user);
    return [...names];
  }

  users() {
    const byUser = new Map();
    for (const c of this.clients.values()) {
      if (!c.user) continue;
      if (!byUser.has(c.user) || c.image_id != null) byUser.set(c.user, c.image_id);
    }
    if (!byUser.has(this.me)) byUser.set(this.me, null);
    return byUser;
  }

  render() {
    const users = this.users();
    this.root.replaceChildren(
      ...[...users].map(([name, imageId]) => {
        const a = document.createElement("span");
        a.className = "avatar";
        a.dataset.user = name;
        a.style.setProperty("--hue", hueOf(name));
        a.textContent = name.charAt(0).toUpperCase();
        const where = imageId != null ? ` on image ${imageId}` : "";
        a.title = `${name}${name === this.me ? " (you)" : ""}${where}`;
        a.setAttribute("role", "img");
        a.setAttribute("aria-label", `${name}${name === this.me ? " (you)" : ""} online${where}`);
        return a;
      }),
    );
    this.root.setAttribute("aria-label", `People online: ${[...users.keys()].join(", ")}`);
    this.onChange?.();
  }
}

function entry(p) {
  const user = typeof p.user === "object" && p.user ? p.user.username || p.user.name : p.user || p.username;
  const image = p.image_id ?? null;
  return { user, image_id: image === null ? null : Number(image) };
}

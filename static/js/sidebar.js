// The tag sidebar: how many images in the session carry each tag. Click a
// tag to require it in the filter, shift-click to exclude it.

import { api } from "./api.js";

export class Sidebar {
  constructor(list, { sessionId, onToggleTerm, activeTerms }) {
    this.list = list;
    this.sessionId = sessionId;
    this.onToggleTerm = onToggleTerm;
    this.activeTerms = activeTerms;
    this.timer = 0;
    this.tags = [];
    list.addEventListener("click", (ev) => {
      const button = ev.target.closest("button[data-name]");
      if (button) this.onToggleTerm(button.dataset.name, ev.shiftKey);
    });
  }

  async load(query = {}) {
    try {
      const page = await api(`/api/sessions/${this.sessionId}/tags`, { query: { limit: 500, ...query } });
      this.tags = page.items || page || [];
    } catch {
      this.tags = this.tags || [];
    }
    this.render();
  }

  /** Reload soon, folding a burst of events into one request. */
  refreshSoon(query) {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.load(query), 400);
  }

  render() {
    const terms = this.activeTerms();
    if (!this.tags.length) {
      const li = document.createElement("li");
      li.className = "muted small-text empty";
      li.textContent = "No tags yet.";
      this.list.replaceChildren(li);
      return;
    }
    this.list.replaceChildren(
      ...this.tags.map((t) => {
        const li = document.createElement("li");
        const b = document.createElement("button");
        b.type = "button";
        b.dataset.name = t.name;
        const state = terms.get(t.name);
        b.className = `tag-count cat-${t.category || "general"}${state ? ` ${state}` : ""}`;
        b.setAttribute("aria-pressed", String(Boolean(state)));
        const count = t.count ?? t.image_count ?? 0;
        b.innerHTML = '<span class="t-name"></span><span class="t-count"></span>';
        b.children[0].textContent = state === "excluded" ? `−${t.name}` : t.name;
        b.children[1].textContent = Number(count).toLocaleString();
        b.title = `${count} images. Click to filter, shift-click to exclude.`;
        li.append(b);
        return li;
      }),
    );
  }
}

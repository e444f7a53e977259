// The tag sidebar: how many images carry each tag, in the scope that matters
// now: the selected images, else the images the filter shows, else the whole
// session (the last from the server, the others counted from the loaded grid).
// A search box narrows the list. Click a tag to require it in the filter,
// shift-click to exclude it; in a selection, × removes it from those images.

import { api } from "./api.js";

export class Sidebar {
  /**
   * scope(): null for the whole session, or {label, items, selection} where items are grid
   * items with their tags; onRemoveFromSelection(name): batch-remove from the selection.
   */
  constructor(list, { sessionId, onToggleTerm, activeTerms, scope, onRemoveFromSelection, search, scopeLabel }) {
    this.list = list;
    this.sessionId = sessionId;
    this.onToggleTerm = onToggleTerm;
    this.activeTerms = activeTerms;
    this.scope = scope || (() => null);
    this.onRemoveFromSelection = onRemoveFromSelection;
    this.search = search;
    this.scopeLabel = scopeLabel;
    this.timer = 0;
    this.tags = []; // the whole session's counts, as the server last said
    this.stale = false; // the session changed while a selection or filter was counted
    list.addEventListener("click", (ev) => {
      const remove = ev.target.closest("button[data-remove]");
      if (remove) return this.onRemoveFromSelection?.(remove.dataset.remove);
      const button = ev.target.closest("button[data-name]");
      if (button) this.onToggleTerm(button.dataset.name, ev.shiftKey);
    });
    search?.addEventListener("input", () => this.render());
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

  /** Recount soon, folding a burst of events into one request (or one count). */
  refreshSoon(query) {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      if (!this.scope()) return this.load(query);
      // Counted from the grid for now; the session's own counts are due once the scope ends.
      this.stale = true;
      this.render();
    }, 400);
  }

  render() {
    const scope = this.scope();
    if (!scope && this.stale) {
      this.stale = false;
      return this.load();
    }
    const all = scope ? countTags(scope.items) : this.tags;
    if (this.scopeLabel) this.scopeLabel.textContent = scope ? scope.label : "In the whole session";
    const needle = (this.search?.value || "").trim().toLowerCase();
    const tags = needle ? all.filter((t) => t.name.includes(needle)) : all;
    if (!tags.length) {
      const li = document.createElement("li");
      li.className = "muted small-text empty";
      li.textContent = needle ? `No tag here contains “${needle}”.` : "No tags yet.";
      this.list.replaceChildren(li);
      return;
    }
    const terms = this.activeTerms();
    this.list.replaceChildren(...tags.map((t) => this._entry(t, terms, scope)));
  }

  _entry(t, terms, scope) {
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
    if (scope?.selection && this.onRemoveFromSelection) {
      li.className = "with-remove";
      const x = document.createElement("button");
      x.type = "button";
      x.className = "tag-remove";
      x.dataset.remove = t.name;
      x.textContent = "×";
      x.setAttribute("aria-label", `Remove tag ${t.name} from the selection`);
      li.append(x);
    }
    return li;
  }
}

/** [{name, category, count}] over grid items, most used first, then by name.
 * A tagger's suggestion is not in the caption until accepted, so it is not counted. */
export function countTags(items) {
  const counts = new Map();
  for (const item of items) {
    for (const tag of item.tags || []) {
      if (tag.source === "suggestion") continue;
      const entry = counts.get(tag.name);
      if (entry) entry.count += 1;
      else counts.set(tag.name, { name: tag.name, category: tag.category, count: 1 });
    }
  }
  return [...counts.values()].sort((a, b) => b.count - a.count || (a.name < b.name ? -1 : 1));
}

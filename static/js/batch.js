// Batch mode: a selection of images (click with Ctrl, Shift for a range, or
// "select all matching" the filter) and one operation on all of them through
// POST /api/sessions/{id}/batch: tags added (at the end or the front),
// removed or replaced, each list sorted by name or cleared. As in
// BooruDatasetTagManager: adding at the front skips images that have the tag,
// the sort can keep the first tags where they are. z undoes a batch.

import { api } from "./api.js";
import { lastToken, splitInput, withLastToken } from "./panel.js";

const SUGGEST_LIMIT = 8;
const SUGGEST_DELAY_MS = 80;

export class Batch {
  constructor({ sessionId, grid, currentQuery, onDone, onError, onChange, elements }) {
    this.sessionId = sessionId;
    this.onChange = onChange || (() => {});
    this.grid = grid;
    this.currentQuery = currentQuery;
    this.onDone = onDone;
    this.onError = onError;
    this.el = elements;
    this.ids = new Set();
    this.allMatching = false;
    this.anchor = null;
    this.selectMode = false; // on touch screens there is no Ctrl: a click selects
    this._wire();
    this.render();
  }

  has(id) {
    return this.allMatching || this.ids.has(id);
  }

  /** A click on a tile that selects: Shift extends from the anchor, otherwise toggle. */
  click(id, ev) {
    if (this.allMatching) {
      this.allMatching = false;
      this.ids = new Set(this.grid.items.map((item) => item.id));
    }
    if (ev?.shiftKey && this.anchor !== null) {
      for (const other of this.grid.idsBetween(this.anchor, id)) this.ids.add(other);
    } else if (this.ids.has(id)) {
      this.ids.delete(id);
    } else {
      this.ids.add(id);
    }
    this.anchor = id;
    this.render();
  }

  setAnchor(id) {
    this.anchor = id;
  }

  selectAll() {
    this.allMatching = true;
    this.query = this.currentQuery(); // the filter applied now, whatever is typed later
    this.ids.clear();
    this.render();
  }

  clear() {
    this.allMatching = false;
    this.ids.clear();
    this.render();
  }

  count() {
    return this.allMatching ? this.grid.items.length : this.ids.size;
  }

  render() {
    const n = this.count();
    const { selectionCount, form } = this.el;
    selectionCount.textContent = n
      ? `${n.toLocaleString()} selected${this.allMatching ? " (all matching)" : ""}`
      : "No selection";
    form.hidden = n === 0;
    this.grid.refreshTiles();
    this.onChange();
  }

  /** Remove one tag from every selected image (the sidebar's × in a selection). */
  async removeTag(name) {
    await this._send({ add: [], remove: [name] });
  }

  async apply() {
    const { op, tag, to, keep } = this.el;
    const names = splitInput(tag.value);
    const body = { add: [], remove: [] };
    if (op.value === "sort") {
      body.sort = true;
      body.keep_first = Math.max(0, Number.parseInt(keep.value, 10) || 0);
    } else if (op.value === "clear") {
      const n = this.count().toLocaleString();
      if (!window.confirm(`Remove every tag from ${n} image${n === "1" ? "" : "s"}? (z undoes it)`)) return;
      body.clear = true;
    } else if (!names.length) {
      return this.onError("Type the tag to apply.");
    } else if (op.value === "add" || op.value === "front") {
      body.add = names;
      body.add_front = op.value === "front";
    } else if (op.value === "remove") {
      body.remove = names;
    } else {
      const target = to.value.trim();
      if (!target) return this.onError("Type the tag to replace it with.");
      if (names.length !== 1) return this.onError("Replace one tag at a time.");
      body.replace = { from: names[0], to: target };
    }
    if (await this._send(body)) {
      tag.value = "";
      to.value = "";
    }
  }

  async _send(body) {
    body.selection = this.allMatching ? { q: this.query ?? this.currentQuery() } : { image_ids: [...this.ids] };
    try {
      const result = await api(`/api/sessions/${this.sessionId}/batch`, { method: "POST", body });
      const changed = result?.changed ?? result?.count ?? result?.images_changed ?? 0;
      this.onDone(`${changed.toLocaleString()} image${changed === 1 ? "" : "s"} changed.`);
      return true;
    } catch (exc) {
      this.onError(exc.message);
      return false;
    }
  }

  _suggestSoon(box) {
    clearTimeout(this.suggestTimer);
    this.suggestTimer = setTimeout(() => this._suggest(box.value), SUGGEST_DELAY_MS);
  }

  /** Complete the last of the comma-separated tags; an option is the whole text with it. */
  async _suggest(text) {
    const prefix = lastToken(text).toLowerCase();
    const list = document.getElementById("batch-suggestions");
    this.suggestAbort?.abort();
    if (!prefix || !list) return;
    const abort = new AbortController();
    this.suggestAbort = abort;
    try {
      const page = await api("/api/tags", { query: { prefix, limit: SUGGEST_LIMIT }, signal: abort.signal });
      list.replaceChildren(...(page.items || []).map((t) => new Option(t.name, withLastToken(text, t.name))));
    } catch (exc) {
      if (exc.name !== "AbortError") list.replaceChildren();
    }
  }

  _wire() {
    const { form, op, to, selectAll, selectNone, selectMode } = this.el;
    selectMode.addEventListener("click", () => {
      this.selectMode = !this.selectMode;
      selectMode.setAttribute("aria-pressed", String(this.selectMode));
    });
    form.addEventListener("submit", (ev) => {
      ev.preventDefault();
      this.apply();
    });
    op.addEventListener("change", () => {
      to.hidden = op.value !== "replace";
      this.el.tag.hidden = op.value === "sort" || op.value === "clear";
      this.el.keep.parentElement.hidden = op.value !== "sort";
    });
    selectAll.addEventListener("click", () => this.selectAll());
    // The batch boxes complete tag names too (the browser's own list, from the vocabulary).
    for (const box of [this.el.tag, to]) box.addEventListener("input", () => this._suggestSoon(box));
    selectNone.addEventListener("click", () => this.clear());
  }
}

// Batch mode: a selection of images (click with Ctrl, Shift for a range, or
// "select all matching" the filter) and one tag added, removed or replaced on
// all of them through POST /api/sessions/{id}/batch.

import { api } from "./api.js";

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
    const { op, tag, to } = this.el;
    const name = tag.value.trim();
    if (!name) return this.onError("Type the tag to apply.");
    const body = { add: [], remove: [] };
    if (op.value === "add") body.add = [name];
    else if (op.value === "remove") body.remove = [name];
    else {
      const target = to.value.trim();
      if (!target) return this.onError("Type the tag to replace it with.");
      body.replace = { from: name, to: target };
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
    this.suggestTimer = setTimeout(() => this._suggest(box.value.trim().toLowerCase()), SUGGEST_DELAY_MS);
  }

  async _suggest(prefix) {
    const list = document.getElementById("batch-suggestions");
    this.suggestAbort?.abort();
    if (!prefix || !list) return;
    const abort = new AbortController();
    this.suggestAbort = abort;
    try {
      const page = await api("/api/tags", { query: { prefix, limit: SUGGEST_LIMIT }, signal: abort.signal });
      list.replaceChildren(...(page.items || []).map((t) => new Option(t.name, t.name)));
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
    });
    selectAll.addEventListener("click", () => this.selectAll());
    // The batch boxes complete tag names too (the browser's own list, from the vocabulary).
    for (const box of [this.el.tag, to]) box.addEventListener("input", () => this._suggestSoon(box));
    selectNone.addEventListener("click", () => this.clear());
  }
}

// The image panel: the image large, its tags as chips in caption order (drag
// or Alt+arrows to reorder, × to remove), the tag input with autocomplete,
// and the generation prompt with "add these as tags".

import { api } from "./api.js";
import { TokenCount } from "./tokens.js";

const SUGGEST_LIMIT = 8;
const SUGGEST_DELAY_MS = 60;
const displayUrl = (id) => `/api/images/${id}/display`;

export class Panel {
  /**
   * edits: {add(id, names), remove(id, names), reorder(id, names, version)}; onError(message);
   * onNext(): Enter in the empty tag box goes on to the next image (as in taggui).
   */
  constructor(root, { sessionId, edits, canEdit, onError, onNext, caption, captionStyle }) {
    this.root = root;
    // The session's caption style: the tag list's token count is of the caption file's text.
    this.captionStyle = captionStyle || {};
    const tokensOut = root.querySelector("#tags-tokens");
    this.tokens = tokensOut ? new TokenCount(tokensOut) : null;
    // The written caption's editor (caption.js): opened and closed with the image.
    this.caption = caption || null;
    // Tags are the session's own: the image is read through its session.
    this.sessionId = sessionId;
    this.edits = edits;
    this.onNext = onNext || (() => {});
    this.canEdit = canEdit;
    this.onError = onError;
    this.imageId = null;
    this.state = null; // {version, tags: [{name, category, source}]} as the server last said
    this.pending = []; // optimistic edits not yet seen back: {op, names, ackSeq}
    this.appliedSeq = 0;
    this.el = {
      empty: root.querySelector("#panel-empty"),
      body: root.querySelector("#panel-body"),
      image: root.querySelector("#panel-image"),
      caption: root.querySelector("#panel-caption"),
      chips: root.querySelector("#chips"),
      form: root.querySelector("#tag-form"),
      input: root.querySelector("#tag-input"),
      list: root.querySelector("#suggestions"),
      error: root.querySelector("#tag-error"),
      prompt: root.querySelector("#prompt"),
      promptText: root.querySelector("#prompt-text"),
      promptAdd: root.querySelector("#prompt-add"),
      negativeTitle: root.querySelector("#negative-title"),
      negativeText: root.querySelector("#negative-text"),
      generation: root.querySelector("#generation"),
      statusButtons: [...root.querySelectorAll(".status-btn")],
    };
    this.suggestions = [];
    this.active = -1;
    this.suggestTimer = 0;
    this.suggestAbort = null;
    this.dragName = null;
    // Neighbours fetched ahead and the image shown: id → {img, detail, seq}.
    this.ahead = new Map();
    this._wire();
    if (!canEdit) {
      this.el.input.disabled = true;
      this.el.input.placeholder = "Viewers cannot edit tags";
      for (const b of this.el.statusButtons) b.disabled = true;
      this.el.promptAdd.hidden = true;
      root.querySelector("#copy-previous").hidden = true;
    }
  }

  /** Load an image into the panel. */
  async open(id, { status } = {}) {
    const reopened = this.imageId === id; // after an event about it: read it afresh
    this.imageId = id;
    this.pending = [];
    this.el.empty.hidden = true;
    this.el.body.hidden = false;
    // The display rendition (at most 1536 px a side), never the original: a 3.5 MB PNG
    // costs the next image ~200 ms to fetch and decode for a 350 px panel.
    this.el.image.src = displayUrl(id);
    this.el.image.alt = `Image ${id}`;
    this._status(status);
    this._error("");
    try {
      const seq = this.appliedSeq;
      const data = reopened ? await this._fetchDetail(id) : await this._detail(id);
      this.ahead.set(id, { img: null, seq, detail: Promise.resolve(data) });
      if (this.imageId !== id) return; // the person moved on meanwhile
      this.state = { version: data.version, tags: data.tags || [] };
      this.meta = data;
      const name = data.original_name || data.name || `Image ${id}`;
      this.el.image.alt = name;
      this.el.caption.textContent = `${name} · ${data.width}×${data.height}`;
      if (data.status) this._status(data.status);
      this.caption?.open(id, data);
      this._prompt(data.metadata || {});
      this.render();
    } catch (exc) {
      this.state = { version: 0, tags: [] };
      this.render();
      this._error(exc.message);
    }
  }

  /** Fetch these images' details and decoded renditions now, so that moving to one
   *  paints at once (the browser reuses a decoded image for the same URL). */
  prefetch(ids) {
    const kept = new Map();
    if (this.ahead.has(this.imageId)) kept.set(this.imageId, this.ahead.get(this.imageId));
    for (const id of ids) {
      if (id === null || id === undefined || kept.has(id)) continue;
      kept.set(id, this.ahead.get(id) || this._fetchAhead(id));
    }
    this.ahead = kept;
  }

  _fetchAhead(id) {
    const img = new Image();
    img.src = displayUrl(id);
    img.decode().catch(() => {});
    return { img, seq: this.appliedSeq, detail: this._fetchDetail(id).catch(() => null) };
  }

  /** The image as this session says it (its tags and caption are the session's). */
  _fetchDetail(id) {
    return api(`/api/sessions/${this.sessionId}/images/${id}`);
  }

  /** The image's detail: as fetched ahead if no event has arrived since, else fetched now. */
  async _detail(id) {
    const ahead = this.ahead.get(id);
    const data = ahead && ahead.seq === this.appliedSeq ? await ahead.detail : null;
    return data || this._fetchDetail(id);
  }

  /** A tag's category changed (in the admin): its chip takes the new colour. */
  recolour(name, category) {
    const tag = this.state?.tags.find((t) => t.name === name);
    if (!tag) return;
    tag.category = category;
    this.render();
  }

  /** Show nothing: the filter matches no image. */
  close() {
    this.imageId = null;
    this.state = null;
    this.pending = [];
    this.el.body.hidden = true;
    this.el.empty.hidden = false;
    this.el.empty.textContent = "No image matches the filter.";
    this.el.image.removeAttribute("src");
    this.el.chips.replaceChildren();
    this.caption?.close();
    this._closeList();
  }

  /** A tags.changed event from anyone: take the server's list if it is newer. */
  applyTags(imageId, payload, seq) {
    this.appliedSeq = Math.max(this.appliedSeq, seq || 0);
    if (imageId !== this.imageId || !this.state) return;
    if (payload.version !== undefined && payload.version < this.state.version) return;
    this.state = { version: payload.version ?? this.state.version, tags: payload.tags || [] };
    this._prune();
    this.render();
  }

  /** Every applied event moves the seq on, which settles acked optimistic edits. */
  seen(seq) {
    this.appliedSeq = Math.max(this.appliedSeq, seq || 0);
    this._prune();
  }

  setStatus(status) {
    this._status(status);
  }

  /** The tag names as the person sees them now (server state + optimistic edits). */
  names() {
    let names = (this.state?.tags || []).map((t) => t.name);
    for (const p of this.pending) {
      if (p.op === "add") names = [...names, ...p.names.filter((n) => !names.includes(n))];
      else if (p.op === "remove") names = names.filter((n) => !p.names.includes(n));
      else if (p.op === "set") names = [...p.names];
    }
    return names;
  }

  render() {
    const byName = new Map((this.state?.tags || []).map((t) => [t.name, t]));
    const items = this.names().map((name, index) => this._chip(name, byName.get(name), index));
    // Re-rendering must not drop the keyboard: a chip that had focus keeps it.
    const focused = this.el.chips.contains(document.activeElement) ? document.activeElement.closest(".chip") : null;
    this.el.chips.replaceChildren(...items);
    if (focused) this._chipNamed(focused.dataset.name)?.focus();
    this.tokens?.soon(this.captionText(byName));
    const hint = document.getElementById("suggestion-hint");
    if (hint) hint.hidden = ![...byName.values()].some((t) => t.source === "suggestion");
  }

  /** The tag list as its caption file reads (trigger word first, the session's spelling). */
  captionText(byName) {
    const { triggerWord = "", separator = ", ", underscores = false, escape = false } = this.captionStyle;
    const spelled = this.names()
      .filter((name) => byName.get(name)?.source !== "suggestion")
      .map((name) => (underscores ? name.replaceAll(" ", "_") : name))
      .map((name) => (escape ? name.replaceAll("(", "\\(").replaceAll(")", "\\)") : name));
    return [triggerWord.trim(), ...spelled].filter(Boolean).join(separator);
  }

  _chipNamed(name) {
    return this.el.chips.querySelector(`.chip[data-name="${CSS.escape(name)}"]`);
  }

  focusInput() {
    this.el.input.focus();
    this.el.input.select();
  }

  // --- edits ---------------------------------------------------------------

  async add(rawNames) {
    const names = rawNames.map((n) => n.trim().toLowerCase()).filter(Boolean);
    if (!names.length || this.imageId === null) return;
    await this._optimistic({ op: "add", names }, () => this.edits.add(this.imageId, names));
  }

  async remove(name) {
    await this._optimistic({ op: "remove", names: [name] }, () => this.edits.remove(this.imageId, [name]));
  }

  async reorder(names) {
    const version = this.state.version;
    await this._optimistic({ op: "set", names }, () => this.edits.reorder(this.imageId, names, version));
  }

  async _optimistic(entry, send) {
    const imageId = this.imageId;
    this.pending.push(entry);
    this.render();
    this._error("");
    try {
      const result = await send();
      if (result && typeof result === "object" && result.tags) {
        // An HTTP answer carries the new state directly.
        this._dropPending(entry);
        this.applyTags(imageId, result, 0);
      } else {
        entry.ackSeq = typeof result === "number" ? result : 0;
        this._prune();
      }
    } catch (exc) {
      this._dropPending(entry);
      if (this.imageId === imageId) {
        this.render();
        if (exc.status === 409 || exc.code === "stale_version") {
          // Reload what the server holds first: open() clears the message, and
          // the person must still read why their change did not stick.
          await this.open(imageId);
          if (this.imageId === imageId) this._error(STALE_MESSAGE);
        } else {
          this._error(exc.message);
        }
      }
    }
  }

  _dropPending(entry) {
    this.pending = this.pending.filter((p) => p !== entry);
  }

  _prune() {
    // An acked edit is visible in the server state once its event is applied.
    const before = this.pending.length;
    this.pending = this.pending.filter((p) => p.ackSeq === undefined || p.ackSeq > this.appliedSeq);
    if (this.pending.length !== before) this.render();
  }

  // --- rendering helpers ----------------------------------------------------

  _chip(name, tag, index) {
    const li = document.createElement("li");
    li.className = `chip cat-${tag?.category || "general"}`;
    if (!tag) li.classList.add("pending");
    li.dataset.name = name;
    li.dataset.index = index;
    const label = document.createElement("span");
    label.className = "chip-label";
    label.textContent = name;
    li.append(label);
    if (tag?.source && tag.source !== "manual") li.title = `${name} (from ${tag.source})`;
    if (tag?.source === "suggestion") li.title = `${name}: suggested, not in the caption until accepted (a)`;
    // A tagger's suggestion is not part of the caption until someone accepts it.
    if (tag?.source === "suggestion") li.classList.add("source-suggestion");
    if (this.canEdit) {
      li.draggable = true;
      li.tabIndex = 0;
      li.setAttribute("aria-keyshortcuts", "Alt+ArrowLeft Alt+ArrowRight Delete");
      const x = document.createElement("button");
      x.type = "button";
      x.className = "chip-remove";
      x.setAttribute("aria-label", `Remove tag ${name}`);
      x.textContent = "×";
      li.append(x);
    }
    return li;
  }

  _prompt(metadata) {
    const text = (key) => (typeof metadata[key] === "string" ? metadata[key].trim() : "");
    const prompt = text("prompt");
    const negative = text("negative_prompt");
    this.el.promptText.textContent = prompt;
    this.el.promptAdd.hidden = !prompt || !this.canEdit;
    this.el.negativeTitle.hidden = this.el.negativeText.hidden = !negative;
    this.el.negativeText.textContent = negative;
    // The settings a person re-creates an image with, as the A1111 dataset tag editor shows them.
    const rows = GENERATION_FIELDS.filter(([key]) => metadata[key] !== null && metadata[key] !== undefined && metadata[key] !== "");
    this.el.generation.replaceChildren(
      ...rows.flatMap(([key, label]) => {
        const dt = document.createElement("dt");
        dt.textContent = label;
        const dd = document.createElement("dd");
        dd.textContent = String(metadata[key]);
        return [dt, dd];
      }),
    );
    this.el.generation.hidden = !rows.length;
    this.el.prompt.hidden = !prompt && !negative && !rows.length;
  }

  _status(status) {
    for (const b of this.el.statusButtons) b.setAttribute("aria-pressed", String(b.dataset.status === status));
  }

  _error(message) {
    this.el.error.hidden = !message;
    this.el.error.textContent = message;
  }

  // --- wiring ------------------------------------------------------------------

  _wire() {
    const { chips, form, input, list, promptAdd } = this.el;
    chips.addEventListener("click", (ev) => {
      const x = ev.target.closest(".chip-remove");
      if (x) this.remove(x.closest(".chip").dataset.name);
    });
    chips.addEventListener("keydown", (ev) => this._chipKey(ev));
    chips.addEventListener("dragstart", (ev) => {
      const chip = ev.target.closest(".chip");
      if (!chip) return;
      this.dragName = chip.dataset.name;
      chip.classList.add("dragging");
      ev.dataTransfer.effectAllowed = "move";
      ev.dataTransfer.setData("text/plain", this.dragName);
    });
    chips.addEventListener("dragover", (ev) => {
      if (this.dragName === null) return;
      ev.preventDefault();
      ev.dataTransfer.dropEffect = "move";
    });
    chips.addEventListener("drop", (ev) => {
      ev.preventDefault();
      const target = ev.target.closest(".chip");
      const from = this.dragName;
      this.dragName = null;
      if (!target || from === null || target.dataset.name === from) return;
      const names = this.names().filter((n) => n !== from);
      const rect = target.getBoundingClientRect();
      const after = ev.clientX > rect.left + rect.width / 2;
      const at = names.indexOf(target.dataset.name) + (after ? 1 : 0);
      names.splice(at, 0, from);
      this.reorder(names);
    });
    chips.addEventListener("dragend", () => {
      this.dragName = null;
      for (const c of chips.querySelectorAll(".dragging")) c.classList.remove("dragging");
    });

    form.addEventListener("submit", (ev) => ev.preventDefault());
    input.addEventListener("input", () => this._suggestSoon());
    input.addEventListener("keydown", (ev) => this._inputKey(ev));
    input.addEventListener("blur", () => setTimeout(() => this._closeList(), 150));
    list.addEventListener("mousedown", (ev) => ev.preventDefault()); // keep focus in the input
    list.addEventListener("click", (ev) => {
      const opt = ev.target.closest("[role=option]");
      if (opt) this._accept(withLastToken(this.el.input.value, opt.dataset.name));
    });
    promptAdd.addEventListener("click", () => {
      const tokens = promptTokens(this.el.promptText.textContent);
      if (tokens.length) this.add(tokens);
    });
  }

  _chipKey(ev) {
    const chip = ev.target.closest(".chip");
    if (!chip || !this.canEdit || ev.target !== chip) return;
    const name = chip.dataset.name;
    if (ev.key === "Delete" || ev.key === "Backspace") {
      ev.preventDefault();
      const next = chip.nextElementSibling || chip.previousElementSibling;
      this.remove(name);
      (next || this.el.input).focus();
    } else if (ev.altKey && (ev.key === "ArrowLeft" || ev.key === "ArrowRight")) {
      ev.preventDefault();
      const names = this.names();
      const i = names.indexOf(name);
      const j = i + (ev.key === "ArrowLeft" ? -1 : 1);
      if (j < 0 || j >= names.length) return;
      [names[i], names[j]] = [names[j], names[i]];
      this.reorder(names); // render() keeps the focus on the moved chip
    }
  }

  _inputKey(ev) {
    const open = !this.el.list.hidden && this.suggestions.length;
    if (ev.key === "ArrowDown" && open) {
      ev.preventDefault();
      this._activate((this.active + 1) % this.suggestions.length);
    } else if (ev.key === "ArrowUp" && open) {
      ev.preventDefault();
      this._activate((this.active - 1 + this.suggestions.length) % this.suggestions.length);
    } else if (ev.key === "Enter" && !open && !this.el.input.value.trim()) {
      // The keyboard's fast path: type tags, Enter on an empty box for the next image.
      ev.preventDefault();
      this.onNext();
    } else if (ev.key === "Backspace" && !this.el.input.value && this.canEdit) {
      // Backspace on the empty box takes back the last tag (as a chip input does).
      const last = this.names().at(-1);
      if (last !== undefined) {
        ev.preventDefault();
        this.remove(last);
      }
    } else if (ev.key === "Enter") {
      ev.preventDefault();
      const value = this.el.input.value;
      this._accept(open && this.active >= 0 ? withLastToken(value, this.suggestions[this.active].name) : value);
    } else if (ev.key === "Tab" && open && this.active >= 0) {
      ev.preventDefault();
      this.el.input.value = withLastToken(this.el.input.value, this.suggestions[this.active].name);
      this._closeList();
    } else if (ev.key === "Escape") {
      if (open) {
        ev.stopPropagation();
        this._closeList();
      } else {
        this.el.input.blur();
      }
    }
  }

  _accept(name) {
    const names = splitInput(name);
    this.el.input.value = "";
    this._closeList();
    if (names.length) this.add(names);
  }

  _suggestSoon() {
    clearTimeout(this.suggestTimer);
    this.suggestTimer = setTimeout(() => this._suggest(), SUGGEST_DELAY_MS);
  }

  async _suggest() {
    // Several tags may be typed at once: suggest for the one being typed.
    const prefix = lastToken(this.el.input.value).toLowerCase();
    this.suggestAbort?.abort();
    if (!prefix) return this._closeList();
    const abort = new AbortController();
    this.suggestAbort = abort;
    try {
      const page = await api("/api/tags", { query: { prefix, limit: SUGGEST_LIMIT }, signal: abort.signal });
      if (abort.signal.aborted) return;
      const present = new Set(this.names());
      this.suggestions = (page.items || page || []).filter((t) => !present.has(t.name));
      this._renderList();
    } catch (exc) {
      if (exc.name !== "AbortError") this._closeList();
    }
  }

  _renderList() {
    const { list, input } = this.el;
    if (!this.suggestions.length) return this._closeList();
    list.replaceChildren(
      ...this.suggestions.map((t, i) => {
        const li = document.createElement("li");
        li.id = `suggestion-${i}`;
        li.setAttribute("role", "option");
        li.setAttribute("aria-selected", "false");
        li.dataset.name = t.name;
        li.className = `cat-${t.category || "general"}`;
        const count = t.count ?? t.image_count ?? 0;
        li.innerHTML = '<span class="s-name"></span><span class="s-cat"></span><span class="s-count"></span>';
        li.children[0].textContent = t.name;
        li.children[1].textContent = t.category || "general";
        li.children[2].textContent = Number(count).toLocaleString();
        return li;
      }),
    );
    list.hidden = false;
    input.setAttribute("aria-expanded", "true");
    this._activate(-1);
  }

  _activate(i) {
    this.active = i;
    [...this.el.list.children].forEach((li, j) => li.setAttribute("aria-selected", String(i === j)));
    if (i >= 0) this.el.input.setAttribute("aria-activedescendant", `suggestion-${i}`);
    else this.el.input.removeAttribute("aria-activedescendant");
  }

  _closeList() {
    this.suggestions = [];
    this.active = -1;
    this.el.list.hidden = true;
    this.el.list.replaceChildren();
    this.el.input.setAttribute("aria-expanded", "false");
    this.el.input.removeAttribute("aria-activedescendant");
  }
}

const GENERATION_FIELDS = [
  ["model", "Model"],
  ["model_hash", "Model hash"],
  ["sampler", "Sampler"],
  ["steps", "Steps"],
  ["cfg_scale", "CFG scale"],
  ["seed", "Seed"],
];

const STALE_MESSAGE =
  "Someone else changed this image meanwhile, so your change was not saved. Its tags are shown as they are now; try again.";

/** The tag being typed: the text after the last comma. */
export function lastToken(text) {
  return String(text).split(",").pop().trim();
}

/** The input with its last token replaced by a picked suggestion. */
export function withLastToken(text, name) {
  const parts = String(text).split(",");
  parts[parts.length - 1] = ` ${name}`;
  return parts.join(",").trim();
}

/** Several tags may be typed at once, separated by commas. */
export function splitInput(text) {
  return String(text)
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
}

/** Tag tokens from a generation prompt: commas and newlines split, LoRA syntax and BREAK dropped. */
export function promptTokens(prompt) {
  return String(prompt)
    .replace(/<[a-zA-Z_]+:[^<>]*>/g, ",")
    .replace(/\bBREAK\b/g, ",")
    .split(/[,\r\n]+/)
    .map((s) => s.trim())
    .filter(Boolean);
}

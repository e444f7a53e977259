// Virtualized thumbnail grid: only the rows on screen (plus a small margin)
// are in the DOM, so 10,000 images scroll as smoothly as 10.

export const DEFAULT_TILE = 132;
const NAMES_FROM = 100; // narrower tiles show only the picture and its status
const GAP = 8;
const OVERSCAN_ROWS = 2;

export class Grid {
  /** items: [{id, status, name, size, tags}]; callbacks: onOpen, onSelectClick(id, event), badgesFor(id), isSelected, selectMode. */
  constructor(scroller, spacer, { onOpen, onSelectClick, badgesFor, isSelected, selectMode }) {
    this.scroller = scroller;
    this.spacer = spacer;
    this.onOpen = onOpen;
    this.onSelectClick = onSelectClick;
    this.badgesFor = badgesFor;
    this.isSelected = isSelected;
    this.selectMode = selectMode || (() => false);
    this.items = [];
    this.indexOf = new Map();
    this.current = null;
    this.tiles = new Map(); // index → element on screen
    this.cols = 1;
    this.minTile = DEFAULT_TILE;
    this.tile = DEFAULT_TILE;
    this.frame = 0;
    scroller.addEventListener("scroll", () => this.schedule(), { passive: true });
    new ResizeObserver(() => this.layout()).observe(scroller);
    scroller.addEventListener("click", (ev) => this._click(ev));
    scroller.addEventListener("keydown", (ev) => this._key(ev));
  }

  /** The smallest tile width (the size slider); columns fill the width from there. */
  setTileSize(px) {
    this.minTile = px;
    this.layout();
    const i = this.indexOf.get(this.current);
    if (i !== undefined) this.scrollToIndex(i);
  }

  setItems(items) {
    this.items = items;
    this.indexOf = new Map(items.map((item, i) => [item.id, i]));
    this._clear();
    this.layout();
  }

  appendItems(more) {
    for (const item of more) {
      if (this.indexOf.has(item.id)) continue;
      this.indexOf.set(item.id, this.items.length);
      this.items.push(item);
    }
    this.layout();
  }

  get(id) {
    const i = this.indexOf.get(id);
    return i === undefined ? null : this.items[i];
  }

  /** Change one item (e.g. its status) and redraw its tile if it is on screen. */
  update(id, changes) {
    const i = this.indexOf.get(id);
    if (i === undefined) return;
    Object.assign(this.items[i], changes);
    const el = this.tiles.get(i);
    if (el) this._fill(el, this.items[i]);
  }

  refreshTiles() {
    for (const [i, el] of this.tiles) this._fill(el, this.items[i]);
  }

  setCurrent(id) {
    this.current = id;
    const i = this.indexOf.get(id);
    if (i !== undefined) this.scrollToIndex(i);
    this.refreshTiles();
    this._syncActive();
  }

  neighbour(id, step) {
    const i = this.indexOf.get(id);
    const j = i === undefined ? 0 : i + step;
    return j >= 0 && j < this.items.length ? this.items[j].id : null;
  }

  idsBetween(a, b) {
    let i = this.indexOf.get(a);
    let j = this.indexOf.get(b);
    if (i === undefined || j === undefined) return [b];
    if (i > j) [i, j] = [j, i];
    return this.items.slice(i, j + 1).map((item) => item.id);
  }

  scrollToIndex(i) {
    const rowH = this.tile + GAP;
    const top = Math.floor(i / this.cols) * rowH;
    const view = this.scroller;
    if (top < view.scrollTop) view.scrollTop = top;
    else if (top + rowH > view.scrollTop + view.clientHeight) view.scrollTop = top + rowH - view.clientHeight;
  }

  layout() {
    const width = this.scroller.clientWidth - GAP * 2;
    const cols = Math.max(1, Math.floor((width + GAP) / (this.minTile + GAP)));
    const tile = Math.max(40, Math.floor((width - GAP * (cols - 1)) / cols));
    if (cols !== this.cols || tile !== this.tile) this._clear(); // positions changed
    this.cols = cols;
    this.tile = tile;
    const rows = Math.ceil(this.items.length / this.cols);
    this.spacer.style.height = `${rows * (this.tile + GAP) + GAP}px`;
    this.render();
  }

  schedule() {
    if (this.frame) return;
    this.frame = requestAnimationFrame(() => {
      this.frame = 0;
      this.render();
    });
  }

  render() {
    const rowH = this.tile + GAP;
    const first = Math.max(0, Math.floor(this.scroller.scrollTop / rowH) - OVERSCAN_ROWS);
    const last = Math.ceil((this.scroller.scrollTop + this.scroller.clientHeight) / rowH) + OVERSCAN_ROWS;
    const from = first * this.cols;
    const to = Math.min(this.items.length, last * this.cols);
    for (const [i, el] of this.tiles) {
      if (i < from || i >= to) {
        el.remove();
        this.tiles.delete(i);
      }
    }
    const fragment = document.createDocumentFragment();
    for (let i = from; i < to; i++) {
      if (this.tiles.has(i)) continue;
      const el = this._make(i);
      this.tiles.set(i, el);
      fragment.append(el);
    }
    this.spacer.append(fragment);
    this._syncActive();
  }

  _syncActive() {
    // aria-activedescendant may only name an element that is in the DOM.
    const i = this.indexOf.get(this.current);
    if (i !== undefined && this.tiles.has(i)) this.scroller.setAttribute("aria-activedescendant", `tile-${this.current}`);
    else this.scroller.removeAttribute("aria-activedescendant");
  }

  _make(i) {
    const el = document.createElement("div");
    el.className = "tile";
    el.setAttribute("role", "option");
    const row = Math.floor(i / this.cols);
    const col = i % this.cols;
    el.style.cssText = `width:${this.tile}px;height:${this.tile}px;transform:translate(${GAP + col * (this.tile + GAP)}px,${GAP + row * (this.tile + GAP)}px)`;
    el.classList.toggle("with-info", this.tile >= NAMES_FROM);
    el.innerHTML =
      '<img alt="" decoding="async" loading="lazy" draggable="false"><span class="tile-status"></span>' +
      '<span class="tile-check" aria-hidden="true">✓</span><span class="tile-badges"></span>' +
      '<span class="tile-info"><span class="tile-name"></span> <span class="tile-meta"></span></span>';
    this._fill(el, this.items[i]);
    return el;
  }

  _fill(el, item) {
    el.id = `tile-${item.id}`;
    el.dataset.id = item.id;
    el.dataset.status = item.status || "todo";
    const img = el.firstChild;
    const src = `/api/images/${item.id}/thumbnail`;
    if (img.getAttribute("src") !== src) img.src = src;
    // The tile is named by what it shows: with its words on, the picture needs no alt.
    const words = this.tile >= NAMES_FROM;
    img.alt = words ? "" : item.name || `Image ${item.id}`;
    // Suggestions are not in the caption until accepted: counted apart.
    const suggested = item.tags ? item.tags.filter((t) => t.source === "suggestion").length : 0;
    const tagCount = item.tags ? item.tags.length - suggested : null;
    const meta = [
      item.size ? formatBytes(item.size) : "",
      tagCount === null ? "" : `${tagCount} tag${tagCount === 1 ? "" : "s"}`,
      suggested ? `${suggested} suggested` : "",
    ];
    const metaText = meta.filter(Boolean).join(" · ");
    el.querySelector(".tile-status").textContent = item.status || "todo";
    el.querySelector(".tile-name").textContent = item.name || `Image ${item.id}`;
    el.querySelector(".tile-meta").textContent = metaText;
    const selected = this.isSelected(item.id);
    el.setAttribute("aria-selected", String(selected));
    el.classList.toggle("selected", selected);
    el.classList.toggle("current", item.id === this.current);
    const badges = el.querySelector(".tile-badges");
    const people = this.badgesFor(item.id);
    badges.replaceChildren(
      ...people.map((name) => {
        const b = document.createElement("span");
        b.className = "avatar tiny";
        b.dataset.user = name;
        b.style.setProperty("--hue", hueOf(name));
        b.title = `${name} is here`;
        b.textContent = name.charAt(0).toUpperCase();
        return b;
      }),
    );
  }

  _clear() {
    for (const el of this.tiles.values()) el.remove();
    this.tiles.clear();
  }

  _click(ev) {
    const tile = ev.target.closest(".tile");
    if (!tile) return;
    const id = Number(tile.dataset.id);
    if (ev.shiftKey || ev.ctrlKey || ev.metaKey || this.selectMode()) {
      this.onSelectClick(id, ev);
    } else {
      this.onOpen(id, ev);
    }
  }

  _key(ev) {
    if (ev.target !== this.scroller || !this.items.length) return;
    const steps = { ArrowRight: 1, ArrowLeft: -1, ArrowDown: this.cols, ArrowUp: -this.cols };
    if (ev.key in steps) {
      ev.preventDefault();
      const next = this.neighbour(this.current ?? this.items[0].id, this.current == null ? 0 : steps[ev.key]);
      if (next != null) this.onOpen(next, ev);
    } else if (ev.key === " ") {
      ev.preventDefault();
      if (this.current != null) this.onSelectClick(this.current, ev);
    }
  }
}

/** Bytes in the units a file manager shows (1 KB = 1024 bytes). */
export function formatBytes(n) {
  if (n < 1024) return `${n} B`;
  const units = ["KB", "MB", "GB"];
  let value = n / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${value < 10 ? value.toFixed(1) : Math.round(value)} ${units[unit]}`;
}

/** A stable hue per user name, for avatars everyone sees in the same color. */
export function hueOf(name) {
  let h = 0;
  for (const ch of String(name)) h = (h * 31 + ch.codePointAt(0)) % 360;
  return h;
}

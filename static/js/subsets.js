// The subsets panel: the session's kohya repeat folders (`10_ohwx`), how many
// images each holds, their repeats and class tokens (editable by editors),
// a click to show only one subset, and "Add selected" to move the selection
// into one. Every change goes through /api/sessions/{id}/subsets and comes
// back to every open workspace as a `subset.*` event (refreshSoon).

import { api } from "./api.js";

// Characters that would end a bare query term (tags/query.py): quote the value then.
const NEEDS_QUOTES = /[,|"\\-]/;

/** The query term that shows only this subset's images. */
export function subsetTerm(folder) {
  return NEEDS_QUOTES.test(folder) ? `subset:"${folder}"` : `subset:${folder}`;
}

export class SubsetPanel {
  /**
   * selection(): the selected image ids; onFilter(term): toggle a filter term;
   * onError(message), onDone(message): tell the person.
   */
  constructor(root, { sessionId, canEdit, selection, onFilter, onError, onDone }) {
    this.root = root;
    this.sessionId = sessionId;
    this.canEdit = canEdit;
    this.selection = selection;
    this.onFilter = onFilter;
    this.onError = onError;
    this.onDone = onDone;
    this.list = root.querySelector(".subset-list");
    this.unassigned = root.querySelector(".subset-unassigned");
    this.form = root.querySelector(".subset-new");
    this.timer = 0;
    this.items = [];
    this.form.hidden = !canEdit;
    this.form.addEventListener("submit", (ev) => {
      ev.preventDefault();
      this.create();
    });
    this.list.addEventListener("click", (ev) => this.clicked(ev));
    this.list.addEventListener("change", (ev) => this.edited(ev));
  }

  get base() {
    return `/api/sessions/${this.sessionId}/subsets`;
  }

  async load() {
    try {
      const body = await api(this.base);
      this.items = body.items;
      this.render(body.unassigned);
    } catch (exc) {
      this.onError(exc.message);
    }
  }

  refreshSoon() {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.load(), 250);
  }

  render(unassigned) {
    this.list.replaceChildren(...this.items.map((item) => this.row(item)));
    this.unassigned.textContent = this.items.length
      ? `${unassigned.toLocaleString()} in no subset`
      : "None yet: repeat folders (10_name/) become subsets on import.";
  }

  row(item) {
    const li = document.createElement("li");
    li.className = "subset";
    li.dataset.id = item.id;
    const head = document.createElement("div");
    head.className = "subset-head";
    const show = document.createElement("button");
    show.type = "button";
    show.className = "subset-filter";
    show.dataset.term = subsetTerm(item.folder);
    show.title = "Show only this subset's images";
    show.textContent = item.folder;
    const count = document.createElement("span");
    count.className = "count";
    count.textContent = item.images.toLocaleString();
    count.title = `${item.images} image${item.images === 1 ? "" : "s"}`;
    head.append(show, count);
    li.append(head);
    if (this.canEdit) {
      const remove = document.createElement("button");
      remove.type = "button";
      remove.className = "subset-delete";
      remove.dataset.act = "delete";
      remove.textContent = "×";
      remove.title = "Delete the subset (its images stay in the session)";
      remove.setAttribute("aria-label", `Delete subset ${item.folder}`);
      head.append(remove);
    }
    const fields = document.createElement("div");
    fields.className = "subset-fields";
    fields.append(
      this.field("Repeats", "num_repeats", item.num_repeats, { type: "number", min: "1", max: "10000" }, item),
      this.field("Class", "class_tokens", item.class_tokens, { type: "text", maxLength: 200 }, item),
    );
    li.append(fields);
    if (this.canEdit) {
      const assign = document.createElement("button");
      assign.type = "button";
      assign.className = "button ghost small subset-assign";
      assign.dataset.act = "assign";
      assign.textContent = "Add selected";
      assign.title = `Move the selected images into ${item.folder}`;
      li.append(assign);
    }
    return li;
  }

  field(label, name, value, attrs, item) {
    const wrap = document.createElement("label");
    wrap.className = `subset-field subset-${name}`;
    const text = document.createElement("span");
    text.textContent = label;
    const input = document.createElement("input");
    Object.assign(input, attrs);
    input.name = name;
    input.value = value;
    input.disabled = !this.canEdit;
    input.setAttribute("aria-label", `${label} of ${item.folder}`);
    wrap.append(text, input);
    return wrap;
  }

  async clicked(ev) {
    const show = ev.target.closest("button.subset-filter");
    if (show) return this.onFilter(show.dataset.term);
    const act = ev.target.closest("button[data-act]");
    if (!act) return;
    const id = Number(act.closest("li.subset").dataset.id);
    if (act.dataset.act === "assign") return this.assign(id);
    if (act.dataset.act === "delete") return this.send(`${this.base}/${id}`, { method: "DELETE" }, "Subset deleted; its images stay");
  }

  async edited(ev) {
    const input = ev.target.closest("input");
    if (!input || !this.canEdit) return;
    const id = Number(input.closest("li.subset").dataset.id);
    const value = input.name === "num_repeats" ? Number(input.value) : input.value;
    if (input.name === "num_repeats" && !(Number.isInteger(value) && value >= 1)) {
      this.onError("Repeats is a whole number, 1 or more.");
      return this.load();
    }
    await this.send(`${this.base}/${id}`, { method: "PATCH", body: { [input.name]: value } });
  }

  async assign(id) {
    const imageIds = this.selection();
    if (!imageIds.length) return this.onError("Select images first (x, or Ctrl-click).");
    const body = { subset_id: id, image_ids: imageIds };
    await this.send(`/api/sessions/${this.sessionId}/subset-assignments`, { method: "POST", body }, `${imageIds.length} image${imageIds.length === 1 ? "" : "s"} moved`);
  }

  async create() {
    const data = new FormData(this.form);
    const body = { name: String(data.get("name") || "").trim(), num_repeats: Number(data.get("num_repeats") || 1) };
    if (!body.name) return this.onError("Name the subset.");
    if (await this.send(this.base, { method: "POST", body }, `Subset ${body.num_repeats}_${body.name} added`)) this.form.reset();
  }

  async send(path, options, done) {
    try {
      await api(path, options);
      if (done) this.onDone(done);
      this.load();
      return true;
    } catch (exc) {
      this.onError(exc.message);
      this.load();
      return false;
    }
  }
}

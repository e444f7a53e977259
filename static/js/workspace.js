// The workspace: wires the grid, panel, sidebar, batch bar, presence, keys
// and the live socket together for one session.

import { api, toast } from "./api.js";
import { Batch } from "./batch.js";
import { CaptionEditor } from "./caption.js";
import { Grid } from "./grid.js";
import { Jobs } from "./jobs.js";
import { installShortcuts } from "./keys.js";
import { Panel } from "./panel.js";
import { Presence } from "./presence.js";
import { Preview } from "./preview.js";
import { Sidebar } from "./sidebar.js";
import { EditRefused, LiveSocket } from "./socket.js";
import { SubsetPanel } from "./subsets.js";

const config = JSON.parse(document.getElementById("workspace-config").textContent);
const { sessionId } = config;
// Event kinds as the server names them (sessions_app/event_kinds.py), not a copy.
const KIND = config.eventKinds;
const $ = (id) => document.getElementById(id);
const PAGE_SIZE = 500;

let current = null;
let loadToken = 0;

// --- filter ------------------------------------------------------------------

const filterInput = $("filter-input");
const statusFilter = $("status-filter");
const filterError = $("filter-error");

// The filter the grid shows: what was applied, not what the box holds while
// someone types (a batch on "all matching" must hit the images on screen).
let applied = { q: "", status: "" };

function currentQuery() {
  const q = applied.q.replace(/,\s*$/, "");
  const status = applied.status;
  if (!status) return q;
  return q ? `${q}, status:${status}` : `status:${status}`;
}

/** Terms of the applied filter as name → "included" | "excluded" (for the sidebar). */
function activeTerms() {
  const terms = new Map();
  for (const raw of applied.q.split(",")) {
    const term = raw.trim();
    if (!term) continue;
    if (term.startsWith("-")) terms.set(term.slice(1).trim(), "excluded");
    else terms.set(term, "included");
  }
  return terms;
}

function toggleTerm(name, exclude) {
  const terms = filterInput.value
    .split(",")
    .map((t) => t.trim())
    .filter(Boolean);
  const plain = terms.filter((t) => t !== name && t !== `-${name}`);
  const wanted = exclude ? `-${name}` : name;
  const had = terms.includes(wanted);
  filterInput.value = (had ? plain : [...plain, wanted]).join(", ");
  loadImages();
}

// --- the pieces ---------------------------------------------------------------

const presence = new Presence($("presence"), { me: config.username, onChange: () => grid?.refreshTiles() });

let batch = null;
let sidebar = null;
const selectClick = (id, ev) => batch.click(id, ev);
const grid = new Grid($("grid"), $("grid-spacer"), {
  onOpen: (id) => openImage(id),
  onSelectClick: selectClick,
  badgesFor: (id) => presence.usersOn(id),
  isSelected: (id) => batch?.has(id) ?? false,
  selectMode: () => batch?.selectMode ?? false,
});

batch = new Batch({
  sessionId,
  grid,
  currentQuery,
  onChange: () => sidebar?.render(),
  onDone: (message) => {
    toast(message, "success");
    sidebar.refreshSoon();
  },
  onError: (message) => toast(message, "error"),
  elements: {
    form: $("batch-form"),
    op: $("batch-op"),
    tag: $("batch-tag"),
    to: $("batch-to"),
    keep: $("batch-keep"),
    selectionCount: $("selection-count"),
    selectAll: $("select-all"),
    selectNone: $("select-none"),
    selectMode: $("select-mode"),
  },
});
if (!config.canEdit) $("batch-bar").classList.add("read-only");

const subsets = new SubsetPanel($("subsets"), {
  sessionId,
  canEdit: config.canEdit,
  // "All matching" moves the images loaded in the grid: what the person sees.
  selection: () => (batch.allMatching ? grid.items.map((it) => it.id) : grid.items.filter((it) => batch.has(it.id)).map((it) => it.id)),
  onFilter: (term) => toggleTerm(term, false),
  onError: (message) => toast(message, "error"),
  onDone: (message) => toast(message, "success"),
});
subsets.load();

/** What the sidebar counts: the selection, else the filtered grid, else (null) the session. */
function tagScope() {
  const n = batch.count();
  if (n) {
    const items = batch.allMatching ? grid.items : grid.items.filter((it) => batch.has(it.id));
    return { label: `In the ${n.toLocaleString()} selected image${n === 1 ? "" : "s"}`, items, selection: true };
  }
  if (applied.q || applied.status) {
    const shown = grid.items.length;
    return { label: `In the ${shown.toLocaleString()} image${shown === 1 ? "" : "s"} the filter shows`, items: grid.items };
  }
  return null;
}

sidebar = new Sidebar($("tag-counts"), {
  sessionId,
  onToggleTerm: toggleTerm,
  activeTerms,
  scope: tagScope,
  onRemoveFromSelection: config.canEdit ? (name) => batch.removeTag(name) : null,
  search: $("tag-search"),
  scopeLabel: $("tag-scope"),
});

/** What an auto-tag job covers: the selection, else the filtered images, else all of them. */
function jobScope() {
  const n = batch.count();
  if (n && !batch.allMatching) {
    const ids = grid.items.filter((it) => batch.has(it.id)).map((it) => it.id);
    return { label: `The ${n.toLocaleString()} selected image${n === 1 ? "" : "s"}.`, selection: { image_ids: ids } };
  }
  const q = currentQuery();
  return { label: q ? `The images matching “${q}”.` : "Every image in the session.", selection: { q } };
}

const jobs = new Jobs({
  sessionId,
  canEdit: config.canEdit,
  scope: jobScope,
  onFinished: (job) => {
    if (job.state !== "done" || job.kind !== "autotag") return;
    toast(`Auto-tagging done: ${job.result?.changed ?? 0} images changed.`, "success");
    // Read again even if the application's event has not reached this page
    // (a worker in another process on the in-memory layer only shows in the API).
    reloadPanel();
    reloadGridSoon();
    sidebar.refreshSoon();
  },
  elements: {
    bar: $("job-bar"),
    progress: $("job-progress"),
    label: $("job-label"),
    cancel: $("job-cancel"),
    open: $("autotag-open"),
    dialog: $("autotag"),
    form: $("autotag-form"),
    model: $("autotag-model"),
    scopeLabel: $("autotag-scope"),
    error: $("autotag-error"),
    close: $("autotag-close"),
  },
});

const socket = new LiveSocket(sessionId, {
  lastSeq: config.lastSeq,
  onWelcome: (frame) => presence.reset(frame.present, frame.client_id),
  onPresence: (frame) => presence.apply(frame),
  onJob: (job) => jobs.apply(job),
  onEvent: (frame) => applyEvent(frame),
  onState: (state, detail) => showConnection(state, detail),
  onResync: () => {
    toast("Catching up with changes made while you were away…");
    socket.lastSeq = 0;
    location.reload();
  },
  onGap: async (after, before) => {
    const page = await api(`/api/sessions/${sessionId}/events`, { query: { after, limit: before - after } });
    return page.items || [];
  },
  onNotice: (message) => toast(message, "error"),
});

// Edits that go over HTTP rather than the socket: an undo waits for them,
// or it would reach the server first and reverse the edit before them.
const httpEdits = new Set();
function overHttp(promise) {
  httpEdits.add(promise);
  const done = () => httpEdits.delete(promise);
  promise.then(done, done);
  return promise;
}

const edits = {
  add: (imageId, names) => socket.edit("add_tags", { image_id: imageId, tags: names }),
  remove: (imageId, names) => socket.edit("remove_tags", { image_id: imageId, tags: names }),
  // Reordering quotes the version it started from: a concurrent edit makes it 409.
  reorder: (imageId, names, version) =>
    overHttp(api(`/api/sessions/${sessionId}/images/${imageId}/tags`, { method: "PUT", body: { tags: names, version } })),
};

// The written caption goes over the socket like every edit, with the version it started from.
const caption = new CaptionEditor($("panel"), {
  canEdit: config.canEdit,
  save: (imageId, text, version) => socket.edit("set_caption", { image_id: imageId, caption: text, version }),
});

const panel = new Panel($("panel"), {
  sessionId,
  edits,
  caption,
  captionStyle: config.captionStyle,
  canEdit: config.canEdit,
  onError: (m) => toast(m, "error"),
  onNext: () => openImage(grid.neighbour(current, 1)),
});

const preview = new Preview($("preview"), {
  onStep: (delta) => {
    const id = grid.neighbour(current, delta);
    if (id !== null) openImage(id);
  },
});
const showPreview = () => current !== null && preview.show(current, grid.get(current));
$("preview-open").addEventListener("click", showPreview);

/** Add the previous image's tags, in its order, to this one: one undoable edit. */
async function copyPrevious() {
  if (current === null || !config.canEdit) return;
  const previous = grid.neighbour(current, -1);
  if (previous === null) return toast("This is the first image: there is no previous one to copy from.");
  const imageId = current;
  try {
    const data = await api(`/api/sessions/${sessionId}/images/${previous}`);
    const names = (data.tags || []).filter((t) => t.source !== "suggestion").map((t) => t.name);
    if (!names.length) return toast("The previous image has no tags to copy.");
    if (imageId === current) await panel.add(names);
  } catch (exc) {
    toast(exc.message, "error");
  }
}
$("copy-previous").addEventListener("click", copyPrevious);

/** Accept (they become manual tags) or dismiss the open image's suggested tags: one key each. */
async function settleSuggestions(accept) {
  if (current === null || !config.canEdit) return;
  const waiting = (panel.state?.tags || []).filter((t) => t.source === "suggestion").length;
  if (!waiting) return toast("This image has no suggested tags.");
  const body = { selection: { image_ids: [current] }, [accept ? "accept" : "drop"]: "suggestion" };
  try {
    await api(`/api/sessions/${sessionId}/batch/source`, { method: "POST", body });
    toast(`${accept ? "Accepted" : "Dismissed"} ${waiting} suggestion${waiting === 1 ? "" : "s"}.`, "success");
  } catch (exc) {
    toast(exc.message, "error");
  }
}

// --- data -------------------------------------------------------------------------

async function loadImages() {
  const token = ++loadToken;
  filterError.hidden = true;
  applied = { q: filterInput.value.trim(), status: statusFilter.value };
  const query = { ...applied, limit: PAGE_SIZE };
  let cursor = null;
  let first = true;
  try {
    do {
      const page = await api(`/api/sessions/${sessionId}/images`, { query: { ...query, cursor } });
      if (token !== loadToken) return;
      const items = (page.items || []).map((it) => ({
        id: it.id,
        status: it.status,
        name: it.original_name || it.name,
        size: it.byte_size,
        width: it.width,
        height: it.height,
        format: it.format,
        tags: it.tags || [],
      }));
      if (first) {
        grid.setItems(items);
        first = false;
        markFirstPaint();
        if (current === null) openImage(config.initialImage ?? items[0]?.id ?? null);
        else if (grid.get(current)) grid.setCurrent(current);
      } else {
        grid.appendItems(items);
      }
      cursor = page.next_cursor || null;
      updateCount(Boolean(cursor));
    } while (cursor);
    leaveExcludedImage();
  } catch (exc) {
    if (token !== loadToken) return;
    if (exc.status === 400 || exc.status === 422) {
      filterError.textContent = exc.message;
      filterError.hidden = false;
    } else {
      toast(exc.message, "error");
    }
    if (first) grid.setItems([]);
    updateCount(false);
    leaveExcludedImage();
  }
  sidebar.render();
}

/** The panel never shows (and edits) an image the filter excludes: the first match takes its place. */
function leaveExcludedImage() {
  if (current === null || grid.get(current)) return;
  const first = grid.items[0]?.id;
  if (first !== undefined) return openImage(first);
  current = null;
  grid.setCurrent(null);
  panel.close();
  socket.focus(null);
  const url = new URL(location.href);
  url.searchParams.delete("image");
  history.replaceState(null, "", url);
}

function updateCount(more) {
  const n = grid.items.length;
  $("result-count").textContent = `${n.toLocaleString()}${more ? "+" : ""} image${n === 1 ? "" : "s"}`;
  $("grid-empty").hidden = n > 0 || more;
}

function markFirstPaint() {
  // For bench/workspace_bench.py: the first grid paint after data arrived.
  requestAnimationFrame(() => {
    if (!window.__taggerFirstPaint) window.__taggerFirstPaint = performance.now();
  });
}

function openImage(id) {
  if (id === null || id === undefined) return;
  current = id;
  batch.setAnchor(id);
  grid.setCurrent(id);
  panel.open(id, { status: grid.get(id)?.status });
  panel.prefetch([grid.neighbour(id, 1), grid.neighbour(id, -1)]);
  if (preview.isOpen) preview.show(id, grid.get(id));
  socket.focus(id);
  const url = new URL(location.href);
  url.searchParams.set("image", id);
  history.replaceState(null, "", url);
}

function applyEvent(frame) {
  const p = frame.payload || {};
  switch (frame.kind) {
    case KIND.TAGS_CHANGED:
      panel.applyTags(Number(p.image_id), p, frame.seq);
      if (p.tags) grid.update(Number(p.image_id), { tags: p.tags });
      sidebar.refreshSoon();
      break;
    case KIND.CAPTION_CHANGED:
      caption.applyRemote(Number(p.image_id), p, frame.actor);
      break;
    case KIND.IMAGE_STATUS:
      grid.update(Number(p.image_id), { status: p.status });
      if (Number(p.image_id) === current) panel.setStatus(p.status);
      break;
    case KIND.IMAGES_ADDED:
      if (!filterInput.value.trim() && !statusFilter.value) loadImages();
      sidebar.refreshSoon();
      subsets.refreshSoon();
      break;
    case KIND.SUBSET_CREATED:
    case KIND.SUBSET_UPDATED:
    case KIND.SUBSET_DELETED:
    case KIND.SUBSET_IMAGES:
      subsets.refreshSoon();
      // A filter on a subset shows other images now.
      if (/subset:/i.test(applied.q)) reloadGridSoon();
      break;
    case KIND.TAG_RECATEGORIZED:
      panel.recolour(p.tag, p.to);
      sidebar.refreshSoon();
      break;
    case KIND.JOB_CHANGED:
      jobs.apply(p.job);
      break;
    case KIND.AUTOTAG_APPLIED:
      // Many images at once: tiles and counts are read again.
      if (current !== null && p.image_ids?.includes(current)) reloadPanel();
      reloadGridSoon();
      sidebar.refreshSoon();
      break;
    case KIND.BATCH_APPLIED:
    case KIND.RULES_APPLIED:
    case KIND.TAG_RENAMED:
    case KIND.TAGS_MERGED:
      if (current !== null && (!p.image_ids || p.image_ids.includes(current))) reloadPanel();
      // Counts over a filter or a selection come from the grid's copy of the tags.
      if (tagScope()) reloadGridSoon();
      sidebar.refreshSoon();
      break;
    default:
      break;
  }
  panel.seen(frame.seq);
}

let reloadTimer = 0;
function reloadGridSoon() {
  clearTimeout(reloadTimer);
  reloadTimer = setTimeout(() => loadImages(), 300);
}

function reloadPanel() {
  if (current !== null && panel.pending.length === 0) panel.open(current, { status: grid.get(current)?.status });
}

// --- status, undo, connection --------------------------------------------------

async function setStatus(status) {
  if (current === null || !config.canEdit) return;
  const imageId = current;
  const previous = grid.get(imageId)?.status || "todo";
  if (previous === status) return;
  grid.update(imageId, { status });
  panel.setStatus(status);
  try {
    await socket.edit("set_status", { image_id: imageId, status });
  } catch (exc) {
    grid.update(imageId, { status: previous });
    if (imageId === current) panel.setStatus(previous);
    toast(exc.message, "error");
  }
}

/**
 * Undo (or redo) my latest operation in this session, on the server: it keeps
 * the stacks and refuses when someone else changed the images since. The
 * change itself arrives as ordinary events; offline, it waits in the queue.
 */
async function reverse(op) {
  if (!config.canEdit) return toast(`Viewers have nothing to ${op}.`);
  await Promise.allSettled([...httpEdits]);
  try {
    await socket.edit(op, {});
    toast(op === "undo" ? "Undone." : "Redone.", "success");
  } catch (exc) {
    // The server's reason, e.g. "image 12 was changed by someone else since; undo refused".
    const reason = exc instanceof EditRefused ? sentence(exc.message) : `Could not ${op}: ${exc.message}`;
    toast(reason, exc.code === "conflict" && /^nothing to/.test(exc.message) ? "info" : "error");
  }
}

function sentence(text) {
  const s = String(text).trim();
  return s.charAt(0).toUpperCase() + s.slice(1) + (/[.!?]$/.test(s) ? "" : ".");
}

const banner = $("conn-banner");
const pill = $("conn-pill");
function showConnection(state, { queued = 0, reason = "", retryInMs = 0 } = {}) {
  const words = {
    connecting: "Connecting…",
    online: "Live",
    reconnecting: "Reconnecting…",
    offline: "Offline",
    closed: "Disconnected",
  };
  pill.dataset.state = state;
  pill.textContent = words[state] || state;
  if (state === "online" || state === "connecting") {
    banner.hidden = true;
    if (state === "online" && banner.dataset.wasDown) {
      delete banner.dataset.wasDown;
      toast(queued ? "Reconnected; sending your edits…" : "Reconnected.", "success");
    }
    return;
  }
  banner.dataset.wasDown = "1";
  const pending = queued ? ` ${queued} edit${queued === 1 ? "" : "s"} will be sent when it is back.` : "";
  const retry = retryInMs ? ` Retrying in ${Math.ceil(retryInMs / 1000)} s.` : "";
  banner.textContent = reason || `Connection lost.${retry}${pending}`;
  if (reason && pending) banner.textContent += pending;
  banner.hidden = false;
}

// --- wiring ---------------------------------------------------------------------------

const tileSize = $("tile-size");
const savedSize = Number(localStorage.getItem("tagger.tileSize"));
if (savedSize >= Number(tileSize.min) && savedSize <= Number(tileSize.max)) tileSize.value = String(savedSize);
grid.setTileSize(Number(tileSize.value));
tileSize.addEventListener("input", () => {
  grid.setTileSize(Number(tileSize.value));
  localStorage.setItem("tagger.tileSize", tileSize.value);
});

$("filter-form").addEventListener("submit", (ev) => {
  ev.preventDefault();
  batch.clear();
  loadImages();
});
statusFilter.addEventListener("change", () => {
  batch.clear();
  loadImages();
});
$("filter-clear").addEventListener("click", () => {
  filterInput.value = "";
  statusFilter.value = "";
  batch.clear();
  loadImages();
});
for (const button of document.querySelectorAll(".status-btn")) {
  button.addEventListener("click", () => setStatus(button.dataset.status));
}
const help = $("help");
$("help-button").addEventListener("click", () => help.showModal());

installShortcuts({
  next: () => openImage(grid.neighbour(current, 1)),
  prev: () => openImage(grid.neighbour(current, -1)),
  focusTags: () => panel.focusInput(),
  focusCaption: () => $("caption-text").focus(),
  focusFilter: () => filterInput.focus(),
  setStatus,
  undo: () => reverse("undo"),
  redo: () => reverse("redo"),
  toggleSelect: () => current !== null && batch.click(current, null),
  copyPrevious,
  acceptSuggestions: () => settleSuggestions(true),
  dismissSuggestions: () => settleSuggestions(false),
  preview: showPreview,
  help: () => help.showModal(),
});

window.tagger = { grid, panel, socket, presence, batch, preview, jobs }; // for tests and the benchmark
socket.connect();
jobs.load();
loadImages();
sidebar.load();

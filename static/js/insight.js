// The insight page: tag statistics, the pruning threshold and the captions to
// fix, each read from the session's stats endpoints.

import { api } from "./api.js";

const config = JSON.parse(document.getElementById("insight-config").textContent);
const { sessionId } = config;
const base = `/api/sessions/${sessionId}/stats`;
const $ = (id) => document.getElementById(id);
const MAX_TAGS = 3;
const TAG_LIMIT = 200;
const WEAK_LIMIT = 100;

const percent = (share) => {
  const pct = share * 100;
  // Small shares keep a decimal so 0.4% does not read as "0%".
  return pct > 0 && pct < 10 ? `${pct.toFixed(1)}%` : `${Math.round(pct)}%`;
};
const plural = (n, word) => `${n.toLocaleString()} ${word}${n === 1 ? "" : "s"}`;

function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (key === "class") node.className = value;
    else if (key === "style") node.style.cssText = value;
    else if (key in node) node[key] = value;
    else node.setAttribute(key, value);
  }
  node.append(...children.filter((c) => c !== null && c !== undefined));
  return node;
}

/** A share as a small bar with its number in words beside it (the bar is decoration). */
function shareBar(share) {
  const width = Math.max(0, Math.min(100, share * 100));
  return el(
    "span",
    { class: "share" },
    el("span", { class: "bar", "aria-hidden": "true" }, el("span", { class: "fill", style: `width:${width}%` })),
    el("span", { class: "pct" }, percent(share)),
  );
}

function tagName(item) {
  const cell = el("span", { class: "tag-name" }, item.name);
  if (item.category && item.category !== "general") {
    return el("span", { class: "tag-cell" }, cell, el("span", { class: `cat-badge cat-${item.category}` }, item.category));
  }
  return cell;
}

function showError(message) {
  const box = $("insight-error");
  box.textContent = message;
  box.hidden = !message;
}

// --- tags ---------------------------------------------------------------------

let threshold = 0.8;
let tagItems = [];

function renderTags(stats) {
  tagItems = stats.items;
  $("stat-images").textContent = stats.total_images.toLocaleString();
  $("stat-tags").textContent = stats.items.length >= TAG_LIMIT ? `${TAG_LIMIT}+` : stats.items.length.toLocaleString();
  const trigger = stats.trigger_word.trim();
  $("trigger-note").textContent =
    stats.trigger_mode === "tag"
      ? `“${trigger}” is a tag here: the last column counts the images that have both.`
      : stats.trigger_mode === "setting"
        ? `“${trigger}” starts every exported caption, so every tag appears with it.`
        : "No trigger word is set for this session; set one in its export options.";
  const rows = stats.items.map((item) => {
    const withTrigger =
      item.with_trigger === null
        ? el("span", { class: "muted" }, "–", el("span", { class: "sr-only" }, "no trigger word"))
        : stats.trigger_mode === "setting"
          ? item.with_trigger.toLocaleString()
          : el(
            "span",
            {},
            item.with_trigger.toLocaleString(),
            el("span", { class: "muted small-text" }, ` · ${percent(item.count ? item.with_trigger / item.count : 0)}`),
          );
    return el(
      "tr",
      { class: "tag-row", "data-share": item.share },
      el("th", { scope: "row" }, tagName(item)),
      el("td", { class: "num" }, item.count.toLocaleString()),
      el("td", {}, shareBar(item.share)),
      el("td", { class: "num" }, withTrigger),
    );
  });
  if (!rows.length) {
    rows.push(el("tr", {}, el("td", { colSpan: 4, class: "muted empty-cell" }, "No tags yet. Tag some images first.")));
  }
  $("tag-rows").replaceChildren(...rows);
  $("tag-table").setAttribute("aria-busy", "false");
  const foot = $("tag-foot");
  foot.hidden = stats.items.length < TAG_LIMIT;
  foot.textContent = `Showing the ${TAG_LIMIT} most frequent tags.`;
  markBleeding();
}

/** Flag the table's rows the pruning threshold catches, so both views agree. */
function markBleeding() {
  for (const row of $("tag-rows").querySelectorAll(".tag-row")) {
    row.classList.toggle("bleeds", Number(row.dataset.share) >= threshold - 1e-9);
  }
}

// --- pruning ------------------------------------------------------------------

const range = $("prune-range");
const number = $("prune-number");
const pruneError = $("prune-error");
let pruneToken = 0;
let pruneTimer = 0;

async function loadPruning() {
  const token = ++pruneToken;
  const summary = $("prune-summary");
  try {
    const data = await api(`${base}/pruning`, { query: { min_share: threshold } });
    if (token !== pruneToken) return; // a newer threshold is on its way
    const list = $("prune-list");
    list.replaceChildren(
      ...data.items.map((item) =>
        el("li", { class: "prune-item" }, tagName(item), el("span", { class: "prune-count muted" }, `${item.count.toLocaleString()} of ${data.total_images.toLocaleString()}`), shareBar(item.share)),
      ),
    );
    summary.textContent = data.items.length
      ? `${plural(data.items.length, "tag")} on ${percent(threshold)} of the images or more. These will bleed into the trigger word.`
      : `No tag is on ${percent(threshold)} of the images or more. Nothing will bleed into the trigger word at this threshold.`;
    summary.classList.toggle("warn", data.items.length > 0);
    pruneError.hidden = true;
  } catch (exc) {
    if (token !== pruneToken) return;
    pruneError.textContent = `Could not load the pruning list: ${exc.message}`;
    pruneError.hidden = false;
  }
}

function setThreshold(value, source) {
  const pct = Number(value);
  if (!Number.isFinite(pct) || pct < 1 || pct > 100) {
    pruneError.textContent = "Choose a share between 1% and 100%.";
    pruneError.hidden = false;
    return;
  }
  pruneError.hidden = true;
  const whole = Math.round(pct);
  if (source !== range) range.value = whole;
  if (source !== number) number.value = whole;
  range.setAttribute("aria-valuetext", `${whole}%`);
  threshold = whole / 100;
  markBleeding();
  // Dragging the slider fires many inputs; ask the server once it settles.
  clearTimeout(pruneTimer);
  pruneTimer = setTimeout(loadPruning, 150);
}

range.addEventListener("input", () => setThreshold(range.value, range));
number.addEventListener("input", () => {
  if (number.value !== "") setThreshold(number.value, number);
});
number.addEventListener("change", () => setThreshold(number.value, number));
$("prune-form").addEventListener("submit", (ev) => {
  ev.preventDefault();
  setThreshold(number.value, number);
});

// --- captions to fix ----------------------------------------------------------

function renderWeak(data) {
  $("stat-few").textContent = data.too_few_tags.toLocaleString();
  $("stat-long").textContent = data.over_token_limit.toLocaleString();
  $("stat-limit").textContent = data.max_tokens;
  $("weak-note").textContent =
    `Images with ${data.max_tags} tags or fewer, or whose caption runs past CLIP's ${data.max_tokens}-token window (the trigger word counts). Open one to fix it.`;
  const list = $("weak-list");
  list.replaceChildren(
    ...data.items.map((item) => {
      const name = item.original_name || `Image ${item.image_id}`;
      const badges = el("span", { class: "weak-badges" });
      badges.append(
        el("span", { class: `badge${item.too_few_tags ? " warn" : ""}` }, plural(item.tag_count, "tag")),
        el("span", { class: `badge${item.over_token_limit ? " danger" : ""}` }, plural(item.tokens, "token")),
      );
      const reasons = [item.too_few_tags && "too few tags", item.over_token_limit && `over ${data.max_tokens} tokens`].filter(Boolean);
      return el(
        "li",
        { class: "weak-item" },
        el(
          "a",
          { href: `/sessions/${sessionId}/?image=${item.image_id}`, class: "weak-link" },
          el("img", { src: `/api/images/${item.image_id}/thumbnail`, alt: "", loading: "lazy", decoding: "async", width: 56, height: 56 }),
          el("span", { class: "weak-text" }, el("span", { class: "weak-name" }, name), el("span", { class: "weak-reason" }, reasons.join(", "))),
          badges,
        ),
      );
    }),
  );
  if (!data.items.length) {
    list.append(el("li", { class: "muted empty-cell" }, "Every caption has enough tags and fits the token window."));
  }
  list.setAttribute("aria-busy", "false");
  // The endpoint stops at its limit; say so rather than imply the list is whole.
  const foot = $("weak-foot");
  foot.hidden = data.items.length < WEAK_LIMIT;
  foot.textContent = `Showing the first ${WEAK_LIMIT}; fix these and reload for more.`;
}

// --- start --------------------------------------------------------------------

async function start() {
  const failures = [];
  const failed = (what, placeholder) => (exc) => {
    failures.push(`${what}: ${exc.message}`);
    placeholder?.();
  };
  const tableFailed = () =>
    $("tag-rows").replaceChildren(el("tr", {}, el("td", { colSpan: 4, class: "muted empty-cell" }, "Not available.")));
  const listFailed = () => $("weak-list").replaceChildren(el("li", { class: "muted empty-cell" }, "Not available."));
  await Promise.all([
    api(base, { query: { limit: TAG_LIMIT } })
      .then(renderTags)
      .catch(failed("tag statistics", tableFailed)),
    api(`${base}/images`, { query: { max_tags: MAX_TAGS, max_tokens: 75, limit: WEAK_LIMIT } })
      .then(renderWeak)
      .catch(failed("captions to fix", listFailed)),
    loadPruning(),
  ]);
  if (failures.length) showError(`Could not load the ${failures.join("; ")}`);
}

start();

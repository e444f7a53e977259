// The sessions page: create a session, upload images into one.

import { api, toast } from "./api.js";
import { Uploader } from "./upload.js";

const form = document.getElementById("create-session");
const error = document.getElementById("create-session-error");

form?.addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const name = form.elements.name.value.trim();
  error.hidden = true;
  if (!name) {
    error.textContent = "Give the session a name.";
    error.hidden = false;
    form.elements.name.focus();
    return;
  }
  const button = form.querySelector("button");
  button.disabled = true;
  try {
    await api("/api/sessions", { method: "POST", body: { name } });
    location.reload();
  } catch (exc) {
    error.textContent = exc.message;
    error.hidden = false;
    button.disabled = false;
  }
});

const STATUSES = ["todo", "tagged", "reviewed", "skipped"];

/** Redraw a session card's progress bar and legend from the server's counts. */
async function refreshProgress(sessionId) {
  const card = document.querySelector(`.session-card[data-session-id="${sessionId}"]`);
  if (!card) return;
  const counts = await api(`/api/sessions/${sessionId}/progress`);
  const total = counts.total || 0;
  const done = total - (counts.todo || 0);
  const bar = card.querySelector(".progress");
  bar.setAttribute("aria-label", `${done} of ${total} images done`);
  bar.replaceChildren(
    ...STATUSES.filter((s) => counts[s]).map((status) => {
      const seg = document.createElement("span");
      seg.className = `seg status-${status}`;
      seg.style.width = `${(100 * counts[status]) / (total || 1)}%`;
      seg.title = `${counts[status]} ${status}`;
      return seg;
    }),
  );
  const legend = card.querySelector(".progress-legend");
  const head = document.createElement("span");
  head.innerHTML = "<strong></strong>";
  head.firstChild.textContent = String(done);
  head.append(` of ${total} done`);
  legend.replaceChildren(
    head,
    ...STATUSES.map((status) => {
      const item = document.createElement("span");
      item.className = "legend-item";
      item.innerHTML = `<span class="dot status-${status}" aria-hidden="true"></span>`;
      item.append(`${counts[status] || 0} ${status}`);
      return item;
    }),
  );
}

for (const zone of document.querySelectorAll("[data-upload-session]")) {
  const sessionId = Number(zone.dataset.uploadSession);
  new Uploader(zone, {
    sessionId,
    onFinished: ({ added }) => {
      if (added) toast(`${added} image${added === 1 ? "" : "s"} added.`, "success");
      refreshProgress(sessionId).catch((exc) => toast(exc.message, "error"));
    },
  });
}

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

for (const zone of document.querySelectorAll("[data-upload-session]")) {
  new Uploader(zone, {
    sessionId: Number(zone.dataset.uploadSession),
    onFinished: ({ added }) => {
      if (added) toast(`${added} image${added === 1 ? "" : "s"} added. Reload to update the progress.`);
    },
  });
}

// The sessions page's export control: a format, caption options, and a Download
// that asks the server to build the export as a background job. Options left as
// the page rendered them are not sent, so the server applies the session's
// current settings and rules. The job's bar follows it over the session's socket
// (and the API, should frames stop); once built, the file downloads.

import { api } from "./api.js";
import { LiveSocket } from "./socket.js";

const QUIET_MS = 2000;

/** The form's choices as the export API takes them, or throws a FieldError saying what to fix. */
export function exportChoices(form) {
  const { format, trigger_word: trigger, separator, pinned, images } = form.elements;
  const choices = { format: format.value };
  if (trigger.value !== trigger.defaultValue) choices.trigger_word = trigger.value.trim();
  if (separator.value !== separator.defaultValue) {
    // The server refuses an invisible separator too; saying so here avoids a failed export.
    if (!separator.value.trim()) throw new FieldError(separator, "The separator needs a visible character, such as a comma.");
    choices.separator = separator.value;
  }
  for (const name of ["underscores", "escape", "keep_tokens_separator"]) {
    const box = form.elements[name];
    if (box.checked !== box.defaultChecked) choices[name] = box.checked;
  }
  if (pinned.value !== pinned.defaultValue) {
    const names = pinned.value.split(",").map((name) => name.trim()).filter(Boolean);
    // No names means the session's own pins, so clearing the field cannot unpin them.
    if (!names.length && pinned.defaultValue.trim()) {
      throw new FieldError(pinned, "To export without the session's pinned tags, change its tag rules.");
    }
    if (names.length) choices.pin = names;
  }
  const statuses = [...form.querySelectorAll('input[name="status"]:checked')].map((box) => box.value);
  if (statuses.length) choices.status = statuses;
  const source = form.elements.caption_source;
  // "" leaves the session's own choice (how its dataset came in).
  if (source && source.value) choices.caption_source = source.value;
  if (!images.checked) choices.images = false;
  return choices;
}

/** The streamed export's URL for the same choices (GET /api/sessions/{id}/export). */
export function exportUrl(form) {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(exportChoices(form))) {
    for (const one of Array.isArray(value) ? value : [value]) params.append(key, String(one));
  }
  return `/api/sessions/${form.dataset.exportSession}/export?${params}`;
}

class FieldError extends Error {
  constructor(field, message) {
    super(message);
    this.field = field;
  }
}

function download(url) {
  // The response is an attachment, so following a download link keeps this page;
  // the browser streams the file to disk instead of this script holding it in memory.
  const link = document.createElement("a");
  link.href = url;
  link.download = "";
  document.body.append(link);
  link.click();
  link.remove();
}

const FINISHED = new Set(["done", "failed", "cancelled"]);

/** One export job of one session, shown in its form's bar until it ends. */
class ExportJob {
  constructor(form, job) {
    this.form = form;
    this.sessionId = form.dataset.exportSession;
    this.job = job;
    this.seen = []; // every (done, total, state) shown, for tests
    this.el = {
      bar: form.querySelector(".export-job"),
      label: form.querySelector(".export-job-label"),
      progress: form.querySelector(".export-job progress"),
      file: form.querySelector(".export-job-file"),
    };
    this.lastHeard = Date.now();
    this.show(job);
  }

  async follow() {
    const session = await api(`/api/sessions/${this.sessionId}`);
    this.socket = new LiveSocket(this.sessionId, {
      lastSeq: session.last_seq,
      onJob: (job) => this.show(job),
      onEvent: (frame) => {
        if (frame.kind === "job.changed") this.show(frame.payload?.job);
      },
      onGap: async () => [], // only this job's frames matter here; the poll covers a gap
    });
    this.socket.connect();
    this.timer = setInterval(() => this.poll(), QUIET_MS);
    // Built before the socket opened: the API says so.
    this.poll(true);
  }

  async poll(now = false) {
    if (FINISHED.has(this.job.state) || (!now && Date.now() - this.lastHeard < QUIET_MS)) return;
    try {
      this.show(await api(`/api/sessions/${this.sessionId}/jobs/${this.job.id}`));
    } catch {
      /* the next frame or poll tries again */
    }
  }

  show(job) {
    if (!job || job.id !== this.job.id || FINISHED.has(this.job.state)) return;
    if (job.done < this.job.done && !FINISHED.has(job.state)) return; // an older frame
    this.job = job;
    this.lastHeard = Date.now();
    this.seen.push([job.done, job.total, job.state]);
    const { bar, label, progress, file } = this.el;
    bar.hidden = false;
    bar.dataset.state = job.state;
    progress.max = Math.max(1, job.total);
    progress.value = job.done;
    const counts = `${job.done.toLocaleString()} / ${job.total.toLocaleString()} images`;
    const words = {
      queued: "Export waiting for a worker…",
      running: `Building the export: ${counts}`,
      // Notes say what a trainer will read otherwise than the form asked (a dropped |||).
      done: [`Export ready: ${job.result?.filename || "file"}.`, ...(job.result?.notes || [])].join(
        " Note: ",
      ),
      failed: `The export failed: ${job.error}`,
      cancelled: "The export was cancelled.",
    };
    label.textContent = words[job.state] || job.state;
    if (!FINISHED.has(job.state)) return;
    clearInterval(this.timer);
    this.socket?.close();
    this.form.querySelector('button[type="submit"]').disabled = false;
    if (job.state === "done") {
      const url = `/api/sessions/${this.sessionId}/exports/${job.id}/file`;
      file.href = url;
      file.hidden = false;
      download(url);
    }
  }
}

window.taggerExports = {}; // session id → its latest ExportJob, for tests

for (const form of document.querySelectorAll("form[data-export-session]")) {
  const error = form.querySelector(".field-error");
  const fail = (message) => {
    error.textContent = message;
    error.hidden = false;
  };
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    error.hidden = true;
    for (const field of [form.elements.separator, form.elements.pinned]) field.removeAttribute("aria-invalid");
    let choices;
    try {
      choices = exportChoices(form);
    } catch (exc) {
      if (!(exc instanceof FieldError)) throw exc;
      fail(exc.message);
      form.querySelector("details").open = true;
      exc.field.setAttribute("aria-invalid", "true");
      exc.field.focus();
      return;
    }
    const button = form.querySelector('button[type="submit"]');
    button.disabled = true;
    form.querySelector(".export-job-file").hidden = true;
    try {
      const job = await api(`/api/sessions/${form.dataset.exportSession}/exports`, { method: "POST", body: choices });
      const running = new ExportJob(form, job);
      window.taggerExports[form.dataset.exportSession] = running;
      await running.follow();
    } catch (exc) {
      button.disabled = false;
      fail(exc.message);
    }
  });
}

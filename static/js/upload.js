// Drag-and-drop upload of many files: one XMLHttpRequest per file (so each
// has its own progress bar and its own result), a few at a time, and an
// overall bar over all bytes. A `name.txt` dropped with `name.png` travels
// in the same request: its tags become the image's, as a folder import does.

import { csrfToken, describeError } from "./api.js";

const PARALLEL = 2;

const RESULT_WORDS = {
  imported: "Added",
  duplicate: "Already in this session",
  skipped: "Not added",
};

const CAPTION = /\.txt$/i;
const stem = (name) => name.replace(/\.[^.]*$/, "");

/** Pair each image with the caption file of the same name; captions left over stand alone. */
export function pairCaptions(files) {
  const captions = new Map(files.filter((f) => CAPTION.test(f.name)).map((f) => [stem(f.name), f]));
  const jobs = [];
  for (const file of files) {
    if (CAPTION.test(file.name)) continue;
    const caption = captions.get(stem(file.name)) || null;
    captions.delete(stem(file.name));
    jobs.push({ file, caption });
  }
  for (const caption of captions.values()) jobs.push({ file: caption, caption: null });
  return jobs;
}

export class Uploader {
  constructor(zone, { sessionId, onFinished }) {
    this.zone = zone;
    this.sessionId = sessionId;
    this.onFinished = onFinished;
    this.input = zone.querySelector(".file-input");
    this.status = zone.querySelector(".upload-status");
    this.overall = zone.querySelector("progress.overall");
    this.overallLabel = zone.querySelector(".upload-overall-label");
    this.list = zone.querySelector(".upload-files");
    this.jobs = [];
    this._wire();
  }

  _wire() {
    const zone = this.zone;
    this.input.addEventListener("change", () => {
      this.add([...this.input.files]);
      this.input.value = "";
    });
    zone.addEventListener("dragover", (ev) => {
      ev.preventDefault();
      zone.classList.add("over");
    });
    zone.addEventListener("dragleave", (ev) => {
      if (!zone.contains(ev.relatedTarget)) zone.classList.remove("over");
    });
    zone.addEventListener("drop", (ev) => {
      ev.preventDefault();
      zone.classList.remove("over");
      this.add([...(ev.dataTransfer?.files || [])]);
    });
    // Files chosen before this module ran (a slow page load) upload all the same.
    if (this.input.files.length) {
      this.add([...this.input.files]);
      this.input.value = "";
    }
  }

  add(files) {
    if (!files.length) return;
    this.status.hidden = false;
    for (const { file, caption } of pairCaptions(files)) {
      const row = document.createElement("li");
      row.className = "upload-file";
      row.innerHTML = '<span class="file-name"></span><progress max="100" value="0"></progress><span class="file-result">Waiting…</span>';
      row.querySelector(".file-name").textContent = caption ? `${file.name} + ${caption.name}` : file.name;
      row.querySelector("progress").setAttribute("aria-label", `Upload progress of ${file.name}`);
      this.list.append(row);
      const size = file.size + (caption?.size || 0);
      this.jobs.push({ file, caption, size, row, loaded: 0, done: false, ok: false, outcome: "" });
    }
    this._pump();
  }

  _pump() {
    const running = this.jobs.filter((j) => j.started && !j.done).length;
    const waiting = this.jobs.filter((j) => !j.started);
    for (const job of waiting.slice(0, Math.max(0, PARALLEL - running))) this._send(job);
    this._progress();
  }

  _send(job) {
    job.started = true;
    const xhr = new XMLHttpRequest();
    const form = new FormData();
    form.append("files", job.file, job.file.name);
    if (job.caption) form.append("files", job.caption, job.caption.name);
    // A file picked with its folder (webkitRelativePath) names that folder: a
    // kohya repeat folder (10_ohwx) puts the image in that subset.
    const parts = (job.file.webkitRelativePath || "").split("/");
    const folder = parts.length >= 2 ? parts[parts.length - 2] : "";
    const query = folder ? `?folder=${encodeURIComponent(folder)}` : "";
    xhr.open("POST", `/api/sessions/${this.sessionId}/images${query}`);
    xhr.setRequestHeader("X-CSRFToken", csrfToken());
    xhr.setRequestHeader("Accept", "application/json");
    xhr.upload.addEventListener("progress", (ev) => {
      if (!ev.lengthComputable) return;
      job.loaded = Math.min(job.size, ev.loaded);
      job.row.querySelector("progress").value = Math.round((100 * ev.loaded) / ev.total);
      job.row.querySelector(".file-result").textContent = "Uploading…";
      this._progress();
    });
    xhr.addEventListener("load", () => {
      let body = null;
      try {
        body = JSON.parse(xhr.responseText);
      } catch {
        body = null;
      }
      if (xhr.status >= 200 && xhr.status < 300) this._result(job, firstResult(body));
      else this._fail(job, describeError(xhr.status, body).message);
    });
    xhr.addEventListener("error", () => this._fail(job, "The upload failed: the server could not be reached."));
    xhr.send(form);
  }

  _result(job, result) {
    const status = result?.status || "imported";
    if (status === "skipped" || status === "error" || status === "rejected") {
      this._fail(job, result?.reason || result?.message || "The file was not accepted.");
      return;
    }
    job.outcome = status;
    const words = RESULT_WORDS[status] || "Added";
    this._finish(job, true, job.caption && status === "imported" ? `${words}, with its caption's tags` : words);
  }

  _fail(job, message) {
    this._finish(job, false, message);
  }

  _finish(job, ok, message) {
    job.done = true;
    job.ok = ok;
    job.loaded = job.size;
    job.row.classList.add(ok ? "ok" : "failed");
    // A failed file has no "complete" bar: the bar would say it went through.
    const bar = job.row.querySelector("progress");
    bar.value = 100;
    bar.style.visibility = ok ? "" : "hidden";
    const result = job.row.querySelector(".file-result");
    result.textContent = ok ? message : `Error: ${message}`;
    if (!ok) result.setAttribute("role", "alert");
    this._pump();
    if (this.jobs.every((j) => j.done)) {
      const failed = this.jobs.filter((j) => !j.ok).length;
      const present = this.jobs.filter((j) => j.ok && j.outcome === "duplicate").length;
      const added = this.jobs.length - failed - present;
      const parts = [`${added} added`];
      if (present) parts.push(`${present} already present`);
      if (failed) parts.push(`${failed} failed`);
      this.overallLabel.textContent = `Done: ${parts.join(", ")}`;
      this.onFinished?.({ added, present, failed });
    }
  }

  _progress() {
    const total = this.jobs.reduce((sum, j) => sum + j.size, 0) || 1;
    const loaded = this.jobs.reduce((sum, j) => sum + (j.done ? j.size : j.loaded), 0);
    this.overall.value = Math.round((100 * loaded) / total);
    if (!this.jobs.every((j) => j.done)) {
      const done = this.jobs.filter((j) => j.done).length;
      this.overallLabel.textContent = `Uploading ${done} of ${this.jobs.length}…`;
    }
  }
}

/** The per-file result of a one-file upload, whatever list shape the API wraps it in. */
function firstResult(body) {
  if (!body) return null;
  const list = Array.isArray(body) ? body : body.items || body.results || body.files || [];
  return list[0] || body;
}

// Drag-and-drop upload of many files: one XMLHttpRequest per file (so each
// has its own progress bar and its own result), a few at a time, and an
// overall bar over all bytes.

import { csrfToken, describeError } from "./api.js";

const PARALLEL = 2;

const RESULT_WORDS = {
  imported: "Added",
  duplicate: "Already in the library",
  skipped: "Not added",
};

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
    for (const file of files) {
      const row = document.createElement("li");
      row.className = "upload-file";
      row.innerHTML = '<span class="file-name"></span><progress max="100" value="0"></progress><span class="file-result">Waiting…</span>';
      row.querySelector(".file-name").textContent = file.name;
      row.querySelector("progress").setAttribute("aria-label", `Upload progress of ${file.name}`);
      this.list.append(row);
      this.jobs.push({ file, row, loaded: 0, done: false, ok: false });
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
    xhr.open("POST", `/api/sessions/${this.sessionId}/images`);
    xhr.setRequestHeader("X-CSRFToken", csrfToken());
    xhr.setRequestHeader("Accept", "application/json");
    xhr.upload.addEventListener("progress", (ev) => {
      if (!ev.lengthComputable) return;
      job.loaded = Math.min(job.file.size, ev.loaded);
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
    this._finish(job, true, RESULT_WORDS[status] || "Added");
  }

  _fail(job, message) {
    this._finish(job, false, message);
  }

  _finish(job, ok, message) {
    job.done = true;
    job.ok = ok;
    job.loaded = job.file.size;
    job.row.classList.add(ok ? "ok" : "failed");
    job.row.querySelector("progress").value = 100;
    const result = job.row.querySelector(".file-result");
    result.textContent = ok ? message : `Error: ${message}`;
    if (!ok) result.setAttribute("role", "alert");
    this._pump();
    if (this.jobs.every((j) => j.done)) {
      const failed = this.jobs.filter((j) => !j.ok).length;
      const added = this.jobs.length - failed;
      this.overallLabel.textContent = `Done: ${added} added${failed ? `, ${failed} failed` : ""}`;
      this.onFinished?.({ added, failed });
    }
  }

  _progress() {
    const total = this.jobs.reduce((sum, j) => sum + j.file.size, 0) || 1;
    const loaded = this.jobs.reduce((sum, j) => sum + (j.done ? j.file.size : j.loaded), 0);
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

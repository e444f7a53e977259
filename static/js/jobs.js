// Background jobs of the session: the auto-tag dialog and the live bar everyone sees.
// Progress arrives as `job` frames over the socket and as `job.changed` events;
// while a job runs and nothing arrives for a while (a worker whose frames cannot
// reach this server), the bar asks the API instead.

import { api, toast } from "./api.js";

const QUIET_MS = 3000;

export class Jobs {
  constructor({ sessionId, canEdit, scope, onFinished, elements }) {
    this.sessionId = sessionId;
    this.canEdit = canEdit;
    this.scope = scope; // () => {q} | {image_ids}: what the dialog's job covers
    this.onFinished = onFinished;
    this.el = elements;
    this.job = null;
    this.lastHeard = 0;
    this.seen = []; // every (done, total) shown, for tests
    this.timer = 0;
    this._wire();
  }

  async load() {
    const page = await api(`/api/sessions/${this.sessionId}/jobs`, { query: { active: true, limit: 1 } });
    if (page.items?.length) this.apply(page.items[0]);
  }

  /** A job's state from a frame, an event or the API: newest wins. */
  apply(job) {
    if (!job) return;
    if (this.job && job.id === this.job.id && job.done < this.job.done && !isFinished(job)) return;
    if (this.job && job.id < this.job.id) return;
    const wasRunning = this.job && this.job.id === job.id && !isFinished(this.job);
    this.job = job;
    this.lastHeard = Date.now();
    this.seen.push([job.done, job.total, job.state]);
    this._render();
    if (isFinished(job)) {
      clearInterval(this.timer);
      this.timer = 0;
      if (wasRunning || job.state === "done") this.onFinished?.(job);
    } else if (!this.timer) {
      this.timer = setInterval(() => this._poll(), QUIET_MS);
    }
  }

  async _poll() {
    if (!this.job || isFinished(this.job) || Date.now() - this.lastHeard < QUIET_MS) return;
    try {
      this.apply(await api(`/api/sessions/${this.sessionId}/jobs/${this.job.id}`));
    } catch {
      /* the next frame or poll tries again */
    }
  }

  _render() {
    const { bar, progress, label, cancel } = this.el;
    const job = this.job;
    bar.hidden = false;
    bar.dataset.state = job.state;
    progress.max = Math.max(1, job.total);
    progress.value = job.done;
    const counts = `${job.done.toLocaleString()} / ${job.total.toLocaleString()}`;
    const exporting = job.kind === "export";
    const what = exporting ? `Building the ${job.format} export` : `Auto-tagging with ${job.model}`;
    const words = {
      queued: `${what}: waiting for a worker`,
      running: job.cancel_requested ? `${what}: cancelling… ${counts}` : `${what}: ${counts}`,
      done: exporting
        ? `Export ready: ${job.result?.filename ?? ""} (download it from the sessions page)`
        : `${what}: done, ${job.result?.changed ?? 0} images changed`,
      failed: `${what} failed: ${job.error}`,
      cancelled: `${what}: cancelled at ${counts}`,
    };
    label.textContent = words[job.state] || job.state;
    cancel.hidden = !this.canEdit || isFinished(job) || job.cancel_requested;
  }

  async _cancel() {
    if (!this.job) return;
    try {
      this.apply(await api(`/api/sessions/${this.sessionId}/jobs/${this.job.id}/cancel`, { method: "POST" }));
    } catch (err) {
      toast(err.message, "error");
    }
  }

  async _models() {
    const { model } = this.el;
    const list = await api("/api/taggers");
    const usable = (list.items || []).filter((m) => m.usable);
    model.replaceChildren(
      ...usable.map((m) => {
        const option = document.createElement("option");
        option.value = option.textContent = m.name;
        return option;
      }),
    );
    return usable.length;
  }

  async _open() {
    const { dialog, scopeLabel, error } = this.el;
    error.hidden = true;
    const count = await this._models().catch(() => 0);
    if (!count) {
      toast("No tagger model is installed on this server (see TAGGER_MODELS_DIR).", "error");
      return;
    }
    scopeLabel.textContent = this.scope().label;
    dialog.showModal();
  }

  async _start(ev) {
    ev.preventDefault();
    const { form, dialog, error } = this.el;
    const data = new FormData(form);
    const number = (name) => (data.get(name) === "" ? null : Number(data.get(name)));
    const body = {
      selection: this.scope().selection,
      model: data.get("model"),
      mode: data.get("mode"),
      general_threshold: number("general_threshold"),
      character_threshold: number("character_threshold"),
      suggest_threshold: number("suggest_threshold"),
    };
    try {
      this.apply(await api(`/api/sessions/${this.sessionId}/jobs/autotag`, { method: "POST", body }));
      dialog.close();
    } catch (err) {
      error.textContent = err.message;
      error.hidden = false;
    }
  }

  _wire() {
    const { open, form, cancel, close } = this.el;
    if (!this.canEdit) open.hidden = true;
    open.addEventListener("click", () => this._open());
    form.addEventListener("submit", (ev) => this._start(ev));
    close.addEventListener("click", () => this.el.dialog.close());
    cancel.addEventListener("click", () => this._cancel());
  }
}

function isFinished(job) {
  return ["done", "failed", "cancelled"].includes(job.state);
}

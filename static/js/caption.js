// The written caption of the open image: free text kept exactly as typed, saved
// on a pause, on leaving the box or with Ctrl+Enter, with its CLIP token count.
//
// Saves quote the caption's version. When someone else wrote it meanwhile the
// server refuses (409) and the box keeps what this person typed, with the other
// person's text shown beside it to take or to save over: nothing typed is lost,
// and no one's text is overwritten without them seeing it.

import { TokenCount } from "./tokens.js";

const SAVE_AFTER_MS = 1500;

export class CaptionEditor {
  /** save(imageId, text, version) → Promise: resolves once the server took it, rejects with .code. */
  constructor(root, { canEdit, save }) {
    this.save = save;
    this.canEdit = canEdit;
    this.imageId = null;
    this.base = ""; // the text as the server last said, at `version`
    this.version = 0;
    this.saving = null; // {imageId, text, version} on its way
    this.saveTimer = 0;
    this.el = {
      text: root.querySelector("#caption-text"),
      tokens: root.querySelector("#caption-tokens"),
      state: root.querySelector("#caption-state"),
      conflict: root.querySelector("#caption-conflict"),
      who: root.querySelector("#caption-conflict-who"),
      theirs: root.querySelector("#caption-theirs"),
      useTheirs: root.querySelector("#caption-use-theirs"),
      keepMine: root.querySelector("#caption-keep-mine"),
    };
    this.tokens = new TokenCount(this.el.tokens);
    this.theirs = null;
    if (!canEdit) {
      this.el.text.readOnly = true;
      this.el.text.placeholder = "No caption written.";
    }
    this._wire();
  }

  /** Show an image's caption (from GET …/images/{id}); what was typed for the last one is saved first. */
  open(imageId, { caption = "", caption_version: version = 0 } = {}) {
    if (imageId === this.imageId && (this.dirty || this.saving || this.theirs)) {
      // The panel re-read this image (an event about its tags): what is typed here stays,
      // and the caption's own events or the save's answer bring the server's text.
      return;
    }
    this.flush();
    this.imageId = imageId;
    this.base = caption;
    this.version = version;
    this.el.text.value = caption;
    this._hideConflict();
    this._state("");
    this._countSoon(0);
  }

  close() {
    this.flush();
    this.imageId = null;
    this.el.text.value = "";
  }

  /** Whether the box holds text the server does not have yet. */
  get dirty() {
    return this.imageId !== null && this.el.text.value !== this.base;
  }

  /** A caption.changed event, anyone's (one's own included). */
  applyRemote(imageId, payload, actor) {
    if (imageId !== this.imageId || payload.caption_version <= this.version) return;
    const ours = this.saving;
    if (ours && ours.imageId === imageId && payload.caption === ours.text && payload.caption_version === ours.version + 1) {
      this._settled(ours.text, payload.caption_version);
      return;
    }
    if (!this.dirty && !ours) {
      // Nothing typed here: follow the other person's text live.
      this.base = this.el.text.value = payload.caption;
      this.version = payload.caption_version;
      this._countSoon(0);
      return;
    }
    this._showConflict(payload.caption, payload.caption_version, actor);
  }

  /** Save now what was typed (leaving the image, the box, or Ctrl+Enter). */
  flush() {
    clearTimeout(this.saveTimer);
    if (this.canEdit && this.dirty && !this.saving && !this.theirs) this._save();
  }

  async _save() {
    const attempt = { imageId: this.imageId, text: this.el.text.value, version: this.version };
    this.saving = attempt;
    this._state("Saving…");
    try {
      await this.save(attempt.imageId, attempt.text, attempt.version);
      if (this.saving === attempt && this.imageId === attempt.imageId) this._settled(attempt.text, attempt.version + 1);
    } catch (exc) {
      if (this.imageId !== attempt.imageId) return;
      if (exc.code === "stale_version" && exc.current) {
        this._showConflict(exc.current.caption, exc.current.caption_version, null);
      } else {
        this._state(`Not saved: ${exc.message}`, true);
      }
    } finally {
      if (this.saving === attempt) this.saving = null;
    }
    // Typed on while the save was out: that is saved next.
    if (this.dirty && !this.theirs && this.imageId === attempt.imageId) this._saveSoon();
  }

  _settled(text, version) {
    this.base = text;
    this.version = Math.max(this.version, version);
    this.saving = null;
    this._state(this.dirty ? "" : "Saved");
  }

  _saveSoon() {
    clearTimeout(this.saveTimer);
    this.saveTimer = setTimeout(() => this.flush(), SAVE_AFTER_MS);
  }

  _showConflict(text, version, actor) {
    // Their text is what the server holds now; a save over it must quote its version.
    this.theirs = { text, version };
    this.version = version;
    this.base = text;
    this.el.who.textContent = actor || "Someone else";
    this.el.theirs.textContent = text || "(empty)";
    this.el.conflict.hidden = false;
    this.el.conflict.scrollIntoView({ block: "nearest" });
    this._state("Not saved yet: choose which text to keep.", true);
  }

  _hideConflict() {
    this.theirs = null;
    this.el.conflict.hidden = true;
  }

  _state(message, warn = false) {
    this.el.state.textContent = message;
    this.el.state.classList.toggle("warn", warn);
  }

  _countSoon(delay) {
    this.tokens.soon(this.el.text.value, delay);
  }

  _wire() {
    const { text, useTheirs, keepMine } = this.el;
    text.addEventListener("input", () => {
      this._countSoon();
      if (this.theirs) return; // nothing is saved until the person chooses
      this._state(this.dirty ? "Unsaved" : "");
      if (this.canEdit) this._saveSoon();
    });
    text.addEventListener("blur", () => this.flush());
    text.addEventListener("keydown", (ev) => {
      if (ev.key === "Enter" && (ev.ctrlKey || ev.metaKey)) {
        ev.preventDefault();
        this.flush();
      } else if (ev.key === "Escape") {
        text.blur();
      }
    });
    useTheirs.addEventListener("click", () => {
      text.value = this.theirs.text;
      this._hideConflict();
      this._settled(text.value, this.version);
      this._countSoon(0);
    });
    keepMine.addEventListener("click", () => {
      this._hideConflict();
      this.flush();
      text.focus();
    });
  }
}

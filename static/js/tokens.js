// A live CLIP token count beside a caption: how much of the 75-token window its
// text uses, counted by the server's tokenizer (POST /api/tags/clip-tokens) once
// the typing pauses. The tag list and the written caption each show one.

import { api } from "./api.js";

const COUNT_AFTER_MS = 250;

export class TokenCount {
  constructor(out) {
    this.out = out;
    this.timer = 0;
    this.abort = null;
  }

  /** Count `text` after `delay` ms; a newer call replaces it. Blank text shows nothing. */
  soon(text, delay = COUNT_AFTER_MS) {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this._count(text), delay);
  }

  async _count(text) {
    this.abort?.abort();
    if (!text.trim()) {
      this.out.textContent = "";
      return;
    }
    const abort = new AbortController();
    this.abort = abort;
    try {
      const { tokens, limit } = await api("/api/tags/clip-tokens", { method: "POST", body: { text }, signal: abort.signal });
      if (abort.signal.aborted) return;
      this.out.textContent = `${tokens} / ${limit} CLIP tokens`;
      this.out.classList.toggle("over", tokens > limit);
    } catch (exc) {
      if (exc.name !== "AbortError") this.out.textContent = "";
    }
  }
}

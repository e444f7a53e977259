// The large preview: the image in a full-window dialog, with zoom (wheel
// around the pointer, + and -), pan (drag), fit (0), 1:1 (1) and the browser's
// full screen. ← and → move to the previous and next image. It shows the
// display rendition, laid out at the original's size, and loads the original
// only once the view asks for more pixels than the rendition has (1:1, zoom in).

const MIN_SCALE = 0.02;
const MAX_SCALE = 32;
const STEP = 1.25;
// How far the display rendition may be magnified before the original is loaded.
const STRETCH = 1.25;

export class Preview {
  /** dialog: the <dialog>; onStep(delta): show the image delta away (±1). */
  constructor(dialog, { onStep }) {
    this.dialog = dialog;
    this.onStep = onStep;
    this.frame = dialog.querySelector(".preview-frame");
    this.stage = dialog.querySelector(".preview-stage");
    this.img = dialog.querySelector(".preview-image");
    this.name = dialog.querySelector(".preview-name");
    this.zoomLabel = dialog.querySelector(".preview-zoom");
    this.view = { scale: 1, x: 0, y: 0 };
    this.fitted = true;
    this.drag = null;
    this._wire();
  }

  get isOpen() {
    return this.dialog.open;
  }

  /** Show an image (opening the dialog if it is closed); the view starts fitted.
   *  item: its grid entry ({name, width, height}: the original's size). */
  show(id, item) {
    const name = item?.name;
    this.name.textContent = name || `Image ${id}`;
    this.img.alt = name || `Image ${id}`;
    this.fitted = true;
    if (this.id !== id) {
      this.id = id;
      this.original = false;
      this.size = item?.width && item?.height ? { width: item.width, height: item.height } : null;
      this.img.style.width = this.size ? `${this.size.width}px` : "";
      this.img.style.height = this.size ? `${this.size.height}px` : "";
      this.img.src = `/api/images/${id}/display`;
    }
    if (!this.dialog.open) this.dialog.showModal();
    if (this.img.complete && this.img.naturalWidth) this.fit();
  }

  /** The original's size in CSS pixels (the rendition is stretched to it). */
  _w() {
    return this.size?.width || this.img.naturalWidth || 1;
  }

  _h() {
    return this.size?.height || this.img.naturalHeight || 1;
  }

  close() {
    if (document.fullscreenElement) document.exitFullscreen().catch(() => {});
    this.dialog.close();
  }

  fit() {
    const { width, height } = this.stage.getBoundingClientRect();
    const w = this._w();
    const h = this._h();
    const scale = Math.min(width / w, height / h);
    this.fitted = true;
    this._set(scale, (width - w * scale) / 2, (height - h * scale) / 2);
  }

  /** Natural size (one image pixel per screen pixel), centred. */
  actual() {
    const { width, height } = this.stage.getBoundingClientRect();
    this.fitted = false;
    this._set(1, (width - this._w()) / 2, (height - this._h()) / 2);
  }

  /** Zoom by `factor` keeping the stage point (cx, cy) still (default: the centre). */
  zoom(factor, cx, cy) {
    const rect = this.stage.getBoundingClientRect();
    const px = cx ?? rect.width / 2;
    const py = cy ?? rect.height / 2;
    const { scale, x, y } = this.view;
    const next = Math.min(MAX_SCALE, Math.max(MIN_SCALE, scale * factor));
    const k = next / scale;
    this.fitted = false;
    this._set(next, px - (px - x) * k, py - (py - y) * k);
  }

  pan(dx, dy) {
    const { scale, x, y } = this.view;
    this.fitted = false;
    this._set(scale, x + dx, y + dy);
  }

  async fullScreen() {
    if (document.fullscreenElement) await document.exitFullscreen();
    else await this.frame.requestFullscreen();
  }

  _set(scale, x, y) {
    // The rendition stretched past STRETCH: the original, at the same place.
    if (!this.original && this.img.naturalWidth && scale * this._w() > this.img.naturalWidth * STRETCH) {
      this.original = true;
      this.img.src = `/api/images/${this.id}/file`;
    }
    this.view = { scale, x, y };
    this.img.style.transform = `translate(${x}px, ${y}px) scale(${scale})`;
    this.img.dataset.scale = scale.toFixed(3);
    this.zoomLabel.textContent = `${Math.round(scale * 100)}%${this.fitted ? " (fit)" : ""}`;
  }

  _wire() {
    const { dialog, stage, img } = this;
    img.addEventListener("load", () => this.fitted && this.fit());
    new ResizeObserver(() => this.fitted && this.dialog.open && this.fit()).observe(stage);
    dialog.addEventListener("click", (ev) => {
      const button = ev.target.closest("button[data-act]");
      if (!button) return;
      const act = button.dataset.act;
      if (act === "in") this.zoom(STEP);
      else if (act === "out") this.zoom(1 / STEP);
      else if (act === "fit") this.fit();
      else if (act === "actual") this.actual();
      else if (act === "full") this.fullScreen().catch(() => {});
      else if (act === "close") this.close();
    });
    stage.addEventListener(
      "wheel",
      (ev) => {
        ev.preventDefault();
        const rect = stage.getBoundingClientRect();
        this.zoom(STEP ** (-ev.deltaY / 100), ev.clientX - rect.left, ev.clientY - rect.top);
      },
      { passive: false },
    );
    stage.addEventListener("pointerdown", (ev) => {
      if (ev.button !== 0) return;
      stage.setPointerCapture(ev.pointerId);
      this.drag = { x: ev.clientX, y: ev.clientY };
      stage.classList.add("panning");
    });
    stage.addEventListener("pointermove", (ev) => {
      if (!this.drag) return;
      this.pan(ev.clientX - this.drag.x, ev.clientY - this.drag.y);
      this.drag = { x: ev.clientX, y: ev.clientY };
    });
    const stop = () => {
      this.drag = null;
      stage.classList.remove("panning");
    };
    stage.addEventListener("pointerup", stop);
    stage.addEventListener("pointercancel", stop);
    stage.addEventListener("dblclick", () => (this.fitted ? this.actual() : this.fit()));
    dialog.addEventListener("keydown", (ev) => this._key(ev));
  }

  _key(ev) {
    if (ev.ctrlKey || ev.metaKey || ev.altKey) return;
    const pan = 60;
    const actions = {
      "+": () => this.zoom(STEP),
      "=": () => this.zoom(STEP),
      "-": () => this.zoom(1 / STEP),
      0: () => this.fit(),
      1: () => this.actual(),
      f: () => this.fullScreen().catch(() => {}),
      ArrowRight: () => this.onStep(1),
      ArrowLeft: () => this.onStep(-1),
      j: () => this.onStep(1),
      k: () => this.onStep(-1),
      ArrowUp: () => this.pan(0, pan),
      ArrowDown: () => this.pan(0, -pan),
    };
    const action = actions[ev.key];
    if (action) {
      ev.preventDefault();
      action();
    }
  }
}

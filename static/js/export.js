// The sessions page's export control: a format, caption options, and a Download
// that builds the API's export URL. Options left as the page rendered them are
// not sent, so the server applies the session's current settings and rules.

/** The export URL for one form, or throws an Error whose message says what to fix. */
export function exportUrl(form) {
  const { format, trigger_word: trigger, separator, pinned, images } = form.elements;
  const params = new URLSearchParams({ format: format.value });
  if (trigger.value !== trigger.defaultValue) params.set("trigger_word", trigger.value.trim());
  if (separator.value !== separator.defaultValue) {
    // The server refuses an invisible separator too; saying so here avoids a failed download.
    if (!separator.value.trim()) throw new FieldError(separator, "The separator needs a visible character, such as a comma.");
    params.set("separator", separator.value);
  }
  for (const name of ["underscores", "escape", "keep_tokens_separator"]) {
    const box = form.elements[name];
    if (box.checked !== box.defaultChecked) params.set(name, String(box.checked));
  }
  if (pinned.value !== pinned.defaultValue) {
    const names = pinned.value.split(",").map((name) => name.trim()).filter(Boolean);
    // No names means the session's own pins, so clearing the field cannot unpin them.
    if (!names.length && pinned.defaultValue.trim()) {
      throw new FieldError(pinned, "To export without the session's pinned tags, change its tag rules.");
    }
    for (const name of names) params.append("pin", name);
  }
  for (const box of form.querySelectorAll('input[name="status"]:checked')) params.append("status", box.value);
  const source = form.elements.caption_source;
  if (source && source.value !== "auto") params.set("caption_source", source.value);
  if (!images.checked) params.set("images", "false");
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
  // the browser streams the zip to disk instead of this script holding it in memory.
  const link = document.createElement("a");
  link.href = url;
  link.download = "";
  document.body.append(link);
  link.click();
  link.remove();
}

for (const form of document.querySelectorAll("form[data-export-session]")) {
  const error = form.querySelector(".field-error");
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    error.hidden = true;
    for (const field of [form.elements.separator, form.elements.pinned]) field.removeAttribute("aria-invalid");
    try {
      download(exportUrl(form));
    } catch (exc) {
      if (!(exc instanceof FieldError)) throw exc;
      error.textContent = exc.message;
      error.hidden = false;
      form.querySelector("details").open = true;
      exc.field.setAttribute("aria-invalid", "true");
      exc.field.focus();
    }
  });
}

// The session settings page: the caption style (owners, PATCH the session)
// and the tag rules (editors: preview, then PUT, one undoable operation).

import { api } from "./api.js";

const config = JSON.parse(document.getElementById("settings-config").textContent);
const base = `/api/sessions/${config.sessionId}`;

/** Comma-separated names as the list the API takes (blank entries dropped). */
export function namesOf(text) {
  return String(text)
    .split(/[,\n]/)
    .map((s) => s.trim())
    .filter(Boolean);
}

function feedback(form) {
  const result = form.querySelector(".form-result");
  const error = form.querySelector(".field-error");
  return {
    ok(message) {
      error.hidden = true;
      result.textContent = message;
    },
    fail(message) {
      result.textContent = "";
      error.textContent = message;
      error.hidden = false;
    },
  };
}

const styleForm = document.getElementById("style-form");
styleForm.addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const say = feedback(styleForm);
  const f = styleForm.elements;
  if (!f.separator.value) return say.fail("The separator cannot be empty.");
  try {
    await api(base, {
      method: "PATCH",
      body: {
        trigger_word: f.trigger_word.value.trim(),
        separator: f.separator.value,
        use_underscores: f.use_underscores.checked,
        escape_parentheses: f.escape_parentheses.checked,
      },
    });
    say.ok("Saved. Exports now use this style.");
  } catch (exc) {
    say.fail(exc.message);
  }
});

const rulesForm = document.getElementById("rules-form");
function rulesBody() {
  const f = rulesForm.elements;
  return {
    blacklist: namesOf(f.blacklist.value),
    pinned: namesOf(f.pinned.value),
    category_order: namesOf(f.category_order.value),
  };
}

document.getElementById("rules-preview").addEventListener("click", async () => {
  const say = feedback(rulesForm);
  try {
    const preview = await api(`${base}/rules/preview`, { method: "POST", body: rulesBody() });
    say.ok(`${preview.changed.toLocaleString()} of ${preview.total.toLocaleString()} images would change.`);
  } catch (exc) {
    say.fail(exc.message);
  }
});

rulesForm.addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const say = feedback(rulesForm);
  try {
    const applied = await api(`${base}/rules`, { method: "PUT", body: rulesBody() });
    const n = applied.changed;
    say.ok(`Rules saved; ${n.toLocaleString()} image${n === 1 ? "" : "s"} changed. Undo it in the workspace with z.`);
  } catch (exc) {
    say.fail(exc.message);
  }
});

// Keyboard shortcuts for the workspace; `?` shows them all.

const TYPING = new Set(["INPUT", "TEXTAREA", "SELECT"]);

export function installShortcuts({ next, prev, focusTags, focusFilter, setStatus, undo, toggleSelect, help }) {
  const statuses = { 1: "todo", 2: "tagged", 3: "reviewed", 4: "skipped" };
  document.addEventListener("keydown", (ev) => {
    const target = ev.target;
    const typing = TYPING.has(target.tagName) || target.isContentEditable;
    if (typing || ev.defaultPrevented) return;
    if (document.querySelector("dialog[open]")) return; // the dialog handles its own keys
    const key = ev.key;
    if ((ev.ctrlKey || ev.metaKey) && key.toLowerCase() === "z") {
      ev.preventDefault();
      undo();
      return;
    }
    if (ev.ctrlKey || ev.metaKey || ev.altKey) return;
    const inGrid = target.id === "grid";
    const actions = {
      j: next,
      k: prev,
      ArrowRight: inGrid ? null : next,
      ArrowLeft: inGrid ? null : prev,
      t: focusTags,
      "/": focusFilter,
      z: undo,
      x: toggleSelect,
      "?": help,
    };
    if (key in statuses) {
      ev.preventDefault();
      setStatus(statuses[key]);
    } else if (actions[key]) {
      ev.preventDefault();
      actions[key]();
    }
  });
}

// Keyboard shortcuts for the workspace; `?` shows them all.

const TYPING = new Set(["INPUT", "TEXTAREA", "SELECT"]);

export function installShortcuts({
  next,
  prev,
  focusTags,
  focusCaption,
  focusFilter,
  setStatus,
  undo,
  redo,
  toggleSelect,
  copyPrevious,
  acceptSuggestions,
  dismissSuggestions,
  preview,
  help,
}) {
  const statuses = { 1: "todo", 2: "tagged", 3: "reviewed", 4: "skipped" };
  document.addEventListener("keydown", (ev) => {
    const target = ev.target;
    // In a text field the browser's own shortcuts win: Ctrl+Z undoes typing there.
    const typing = TYPING.has(target.tagName) || target.isContentEditable;
    if (typing || ev.defaultPrevented) return;
    if (document.querySelector("dialog[open]")) return; // the dialog handles its own keys
    const key = ev.key;
    if ((ev.ctrlKey || ev.metaKey) && !ev.altKey) {
      const lower = key.toLowerCase();
      const action = lower === "z" ? (ev.shiftKey ? redo : undo) : lower === "y" && !ev.shiftKey ? redo : null;
      if (action) {
        ev.preventDefault();
        if (!ev.repeat) action(); // a held key must not walk back through everything
        return;
      }
    }
    if (ev.ctrlKey || ev.metaKey || ev.altKey) return;
    const inGrid = target.id === "grid";
    const actions = {
      j: next,
      k: prev,
      ArrowRight: inGrid ? null : next,
      ArrowLeft: inGrid ? null : prev,
      t: focusTags,
      w: focusCaption,
      "/": focusFilter,
      z: undo,
      Z: redo,
      x: toggleSelect,
      c: copyPrevious,
      a: acceptSuggestions,
      d: dismissSuggestions,
      f: preview,
      "?": help,
    };
    if (key in statuses) {
      ev.preventDefault();
      setStatus(statuses[key]);
    } else if (typeof actions[key] === "function") {
      ev.preventDefault();
      if (ev.repeat && (key === "z" || key === "Z")) return;
      actions[key]();
    }
  });
}

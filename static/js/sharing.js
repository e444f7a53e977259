// The sharing page: the session's members; the owner adds people, changes
// their role and removes them through /api/sessions/{id}/members.

import { api } from "./api.js";

const config = JSON.parse(document.getElementById("sharing-config").textContent);
const base = `/api/sessions/${config.sessionId}/members`;
const tbody = document.getElementById("members");
const listError = document.getElementById("members-error");
const ROLES = ["editor", "viewer"];

function showError(el, message) {
  el.textContent = message;
  el.hidden = !message;
}

async function load() {
  try {
    const page = await api(base);
    render(page.items || []);
  } catch (exc) {
    showError(listError, exc.message);
  }
}

function render(members) {
  tbody.replaceChildren(...members.map(row));
}

function row({ username, role }) {
  const tr = document.createElement("tr");
  tr.dataset.username = username;
  const who = document.createElement("th");
  who.scope = "row";
  who.textContent = username + (username === config.me ? " (you)" : "");
  const roleCell = document.createElement("td");
  const actions = document.createElement("td");
  const editable = config.canShare && role !== "owner";
  if (editable) {
    const select = document.createElement("select");
    select.setAttribute("aria-label", `Role of ${username}`);
    for (const r of ROLES) select.add(new Option(r, r, false, r === role));
    select.addEventListener("change", () => change(username, select.value));
    roleCell.append(select);
    const remove = document.createElement("button");
    remove.type = "button";
    remove.className = "button ghost small danger";
    remove.textContent = "Remove";
    remove.setAttribute("aria-label", `Remove ${username}`);
    remove.addEventListener("click", () => drop(username));
    actions.append(remove);
  } else {
    const badge = document.createElement("span");
    badge.className = `role-badge role-${role}`;
    badge.textContent = role;
    roleCell.append(badge);
  }
  tr.append(who, roleCell, actions);
  return tr;
}

async function change(username, role) {
  showError(listError, "");
  try {
    await api(base, { method: "POST", body: { username, role } });
  } catch (exc) {
    showError(listError, exc.message);
  }
  load();
}

async function drop(username) {
  showError(listError, "");
  try {
    await api(base, { method: "DELETE", query: { username } });
  } catch (exc) {
    showError(listError, exc.message);
  }
  load();
}

const addForm = document.getElementById("member-add");
addForm?.addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const error = addForm.querySelector(".field-error");
  const username = addForm.elements.username.value.trim();
  if (!username) return showError(error, "Type the username of the person to add.");
  const button = addForm.querySelector("button[type=submit]");
  button.disabled = true;
  try {
    await api(base, { method: "POST", body: { username, role: addForm.elements.role.value } });
    showError(error, "");
    // Keep what was typed meanwhile: only the name just added is cleared.
    if (addForm.elements.username.value.trim() === username) addForm.elements.username.value = "";
    load();
  } catch (exc) {
    showError(error, exc.message);
  } finally {
    button.disabled = false;
  }
});

load();

// Every page: color avatars by user name, the same color everywhere.

import { hueOf } from "./grid.js";

for (const el of document.querySelectorAll(".avatar[data-user]")) {
  el.style.setProperty("--hue", hueOf(el.dataset.user));
}

// The Tasks page: the most recently updated tasks first, filtered by status and session,
// refreshed every 2 s. A queued task links to the task it waits for.

import {
  api, describeError, el, filterForm, formatAge, formatTokens, notify, poll, statusBadge,
  taskLink,
} from "./app.js";

const PAGE = 50;
const body = document.querySelector("#tasks tbody");
const filters = document.getElementById("filters");
const live = document.getElementById("live");
const empty = document.getElementById("empty");
const older = document.getElementById("older");
const newer = document.getElementById("newer");
let offset = 0;

const filterValues = filterForm(filters, ["status", "session_id"], () => {
  offset = 0;
  refresh();
});
older.addEventListener("click", () => { offset += PAGE; refresh(); });
newer.addEventListener("click", () => { offset = Math.max(0, offset - PAGE); refresh(); });

function row(task) {
  // A session is one tenant's: filtering on it names the tenant (for an admin key's list).
  const filter = new URLSearchParams({ session_id: task.session_id });
  if (task.tenant && task.tenant !== "default") filter.set("tenant", task.tenant);
  const session = el("a", { href: `?${filter}` }, el("code", { text: task.session_id }));
  return el("tr", { "data-task-id": task.task_id },
    el("td", {}, taskLink(task.task_id, task.tenant)),
    el("td", {}, ...status(task)),
    el("td", {}, session),
    el("td", { text: task.model || "–" }),
    el("td", { class: "num", text: formatTokens(task.usage) }),
    el("td", { text: formatAge(task.created_at), title: task.created_at ? new Date(task.created_at * 1000).toLocaleString() : "" }),
    el("td", { class: "num", text: task.priority ? String(task.priority) : "–" }));
}

function status(task) {
  const badge = statusBadge(task.status);
  if (task.status !== "queued" || !task.queued_behind) return [badge];
  return [badge, el("span", { class: "behind" }, " behind ", taskLink(task.queued_behind, task.tenant))];
}

async function refresh() {
  const query = new URLSearchParams({ order: "recent", limit: PAGE, offset });
  for (const [name, value] of filterValues()) query.set(name, value);
  const page = await api(`/api/v1/tasks?${query}`);
  body.replaceChildren(...page.tasks.map(row));
  empty.hidden = page.tasks.length > 0 || offset > 0;
  older.hidden = page.next_offset === null;
  newer.hidden = offset === 0;
  live.textContent = `updated ${new Date().toLocaleTimeString()}`;
}

poll(refresh, 2000, (error) => {
  live.textContent = "not updating";
  notify(`Could not load tasks: ${describeError(error)}`, "error");
});

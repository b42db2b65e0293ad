// The Approvals inbox: every pending tool call (GET /api/v1/approvals, grouped by task) and
// every task waiting for answers, refreshed every 2 s without disturbing a form being edited.

import { api, describeError, filterForm, notify, poll } from "./app.js";
import { approvalForm, questionsForm } from "./decide.js";

const inbox = document.getElementById("inbox");
const empty = document.getElementById("empty");
const live = document.getElementById("live");
const count = document.getElementById("approvals-count");
const filters = document.getElementById("filters");
const shown = new Map(); // key → element, so polling keeps what a person typed
let order = [];

const filterValues = filterForm(filters, ["session_id", "tool"], () => refresh());

// The filters as a query, with `extra`.
function query(extra) {
  const result = new URLSearchParams(extra);
  for (const [name, value] of filterValues()) result.set(name, value);
  return result;
}

// Pending calls, newest first, as [{task_id, session_id, tenant, calls: [...]}] (an admin
// key's inbox holds every tenant's: the same task id may come from two).
async function pendingCalls() {
  const page = await api(`/api/v1/approvals?${query({ limit: 200 })}`);
  const groups = new Map();
  for (const row of page.approvals) {
    const task = `${row.tenant}/${row.task_id}`;
    if (!groups.has(task)) {
      const group = { task_id: row.task_id, session_id: row.session_id, tenant: row.tenant, nested: row.nested, calls: [] };
      groups.set(task, group);
    }
    groups.get(task).calls.push({
      id: row.tool_call_id,
      name: row.tool_name,
      arguments: row.arguments,
      parameters: row.parameters,
    });
  }
  return [...groups.values()];
}

function questionsQuery() {
  const result = query({ status: "awaiting_input", order: "recent", limit: 200 });
  result.delete("tool"); // questions come from the model, not from a tool the filter names
  return result;
}

async function waitingForAnswers() {
  const page = await api(`/api/v1/tasks?${questionsQuery()}`);
  return page.tasks.filter((task) => task.pending_input);
}

function sent(key) {
  return (text) => {
    notify(text, "success");
    shown.get(key)?.remove();
    shown.delete(key);
    order = order.filter((k) => k !== key);
    refresh();
  };
}

async function refresh() {
  const [groups, questions] = await Promise.all([pendingCalls(), waitingForAnswers()]);
  const wanted = [];
  for (const group of groups) {
    const key = `calls:${group.tenant}/${group.task_id}:${group.calls.map((c) => c.id).join(",")}`;
    wanted.push(key);
    if (!shown.has(key)) {
      shown.set(key, approvalForm(group, { onSent: sent(key) }));
    }
  }
  for (const task of questions) {
    const key = `questions:${task.tenant}/${task.task_id}:${task.pending_input.id}`;
    wanted.push(key);
    if (!shown.has(key)) shown.set(key, questionsForm(task, { onSent: sent(key) }));
  }
  for (const key of [...shown.keys()]) {
    if (!wanted.includes(key)) {
      shown.get(key).remove();
      shown.delete(key);
    }
  }
  if (wanted.join("|") !== order.join("|")) {
    inbox.replaceChildren(...wanted.map((key) => shown.get(key)));
    order = wanted;
  }
  const calls = groups.reduce((sum, group) => sum + group.calls.length, 0);
  count.textContent = String(calls + questions.length);
  count.hidden = calls + questions.length === 0;
  empty.hidden = wanted.length > 0;
  live.textContent = `updated ${new Date().toLocaleTimeString()}`;
}

poll(refresh, 2000, (error) => {
  live.textContent = "not updating";
  notify(`Could not load the inbox: ${describeError(error)}`, "error");
});

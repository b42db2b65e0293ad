// One task: its facts, the conversation as it streams (token by token from the SSE endpoint,
// resumed with Last-Event-ID after a drop), the user's images and files, tool calls folded
// with their results, the files the task made (artifacts), the decisions it waits for, the
// shared limits its calls wait for, and cancel; its steps, with forking from one of them and
// re-running (steps.js).

import {
  api, describeError, el, fileList, followEvents, formatUsage, notify, prettyJson, statusBadge,
  taskLink,
} from "./app.js";
import { approvalForm, questionsForm } from "./decide.js";
import { loadSteps, renderLinks, setUpRerun } from "./steps.js";

const taskId = document.getElementById("task").dataset.taskId;
const conversation = document.getElementById("conversation");
const decisions = document.getElementById("decisions");
const streamState = document.getElementById("stream-state");
const cancel = document.getElementById("cancel");
const temporalLink = document.getElementById("temporal-link");
const artifacts = document.getElementById("artifacts");
const taskPath = `/api/v1/tasks/${encodeURIComponent(taskId)}`;
let shownArtifacts = "";
const toolItems = new Map(); // tool call id → its folded <details>
let answer = null; // the assistant bubble the current LLM call streams into
let pendingKey = "";
let requested = []; // the calls of the last approval.required

function item(kind, ...children) {
  const node = el("li", { class: `turn ${kind}` }, ...children);
  conversation.append(node);
  return node;
}

function bubble() {
  if (!answer) {
    answer = item("assistant", el("span", { class: "who", text: "Assistant" }), el("div", { class: "text" }));
    answer.setAttribute("aria-busy", "true");
  }
  return answer.querySelector(".text");
}

function note(text, kind = "") {
  item(`note ${kind}`, el("span", { text }));
}

// What a decision recorded by release 0.1.0+254ae33 said of each call it settled: its
// `approval.decided` has no `calls`, but `approved` for every call and `tool_calls` by call id.
function decidedCalls(data) {
  const perCall = data.tool_calls || {};
  const all = data.approved == null ? [] : [{ approved: data.approved, reason: data.reason }];
  if (!requested.length) return [...Object.values(perCall), ...all];
  return requested.map((call) => perCall[call.id] || all[0] || { approved: false });
}

const handlers = {
  "task.queued"(data) {
    note(`Queued behind task ${data.behind}: it starts once that one has ended`, "waiting");
  },
  "task.started"(data) {
    const files = (data.parts || []).map((part, n) => ({
      path: `${taskPath}/inputs/${n}`,
      name: part.name || `file-${n}`,
      mediaType: part.media_type,
      size: part.size,
    }));
    item("user", el("span", { class: "who", text: "You" }), el("div", { class: "text", text: data.user_message }),
      ...(files.length ? [fileList(files)] : []));
  },
  "llm.delta"(data) {
    bubble().append(data.text);
  },
  "llm.restart"() {
    bubble().textContent = ""; // the call was retried: its new answer follows
  },
  "llm.message"(data) {
    if (data.content) bubble().textContent = data.content;
    if (answer) {
      answer.removeAttribute("aria-busy");
      if (!data.content) answer.remove();
    }
    answer = null;
  },
  "tool.call"(data) {
    const details = el(
      "details",
      { class: "tool-call" },
      el("summary", {}, el("span", { class: "tool", text: data.name }), " ",
        el("span", { class: "tool-state", text: "called" })),
      el("p", { class: "label", text: "Arguments" }),
      el("pre", { class: "arguments", text: prettyJson(data.arguments) }),
    );
    toolItems.set(data.id, details);
    item("tool", details);
  },
  "tool.progress"(data) {
    // What another agent (called as a tool) writes while it works.
    const details = toolItems.get(data.tool_call_id);
    if (!details) return;
    let progress = details.querySelector("pre.progress");
    if (!progress) {
      details.querySelector(".tool-state").textContent = "working";
      progress = el("pre", { class: "progress" });
      details.append(el("p", { class: "label", text: "The agent writes" }), progress);
    }
    if (data.replace) progress.textContent = data.text;
    else progress.append(data.text);
  },
  "tool.result"(data) {
    let details = toolItems.get(data.tool_call_id);
    if (!details) details = item("tool", el("details", { class: "tool-call" }, el("summary", { text: data.name }))).firstChild;
    details.querySelector(".tool-state").textContent = data.is_error ? "failed" : "done";
    details.classList.toggle("failed", Boolean(data.is_error));
    details.append(el("p", { class: "label", text: data.is_error ? "Error" : "Result" }),
      el("pre", { class: "result", text: data.content }));
  },
  "approval.required"(data) {
    requested = data.tool_calls;
    const whose = data.nested ? ` (asked by agent ${data.nested.subagent_name})` : "";
    note(`Waiting for approval: ${data.tool_calls.map((c) => c.name).join(", ")}${whose}`, "waiting");
  },
  "approval.decided"(data) {
    const calls = data.calls || decidedCalls(data);
    const approved = calls.every((c) => c.approved);
    const rejected = calls.every((c) => !c.approved);
    const verdict = approved ? "Approved" : rejected ? "Rejected" : "Decided call by call";
    const reason = calls.map((c) => c.reason).filter(Boolean).join("; ");
    const edited = calls.filter((c) => c.edited_arguments).map((c) => c.name);
    let text = reason ? `${verdict}: ${reason}` : verdict;
    if (edited.length) text += ` (edited arguments: ${edited.join(", ")})`;
    if (data.automatic) text += ` automatically (${data.by})`;
    else if (data.by) text += ` by ${data.by}`;
    note(text, approved ? "ok" : "warn");
  },
  "input.required"(data) {
    const whose = data.nested ? ` (asked by agent ${data.nested.subagent_name})` : "";
    note(`Question: ${data.questions.map((q) => q.question).join(" · ")}${whose}`, "waiting");
  },
  "context.compacted"(data) {
    // The older turns are summarized (or dropped) for the model; the page keeps them.
    const how = data.model ? `summarized by ${data.model}` : "dropped (no summarizer model)";
    const text = `Conversation compacted: messages ${data.first}-${data.end - 1} ${how}, ` +
      `~${data.tokens_before} → ~${data.tokens_after} tokens`;
    const node = item("note summary", el("span", { text }));
    if (data.summary) {
      node.append(el("details", { class: "summary" }, el("summary", { text: "Summary" }),
        el("div", { class: "text", text: data.summary })));
    }
  },
  "task.waiting_for_capacity"(data) {
    note(`Waiting for capacity (${data.limit}): ${REASONS[data.reason] || data.reason}`, "waiting");
  },
  "input.answered"(data) {
    note(`Answered: ${data.answers.map((a) => a.join(", ")).join(" · ")}`, "ok");
  },
  "task.completed"() {
    note("Completed", "ok");
  },
  "task.failed"(data) {
    note(`Failed: ${data.error?.message || "unknown error"} (${data.error?.code || "?"})`, "error");
  },
  "task.cancelled"(data) {
    note(data.error ? `Cancelled: ${data.error.message}` : "Cancelled", "warn");
  },
};

const REASONS = {
  concurrency: "as many calls as allowed are in flight",
  requests_per_minute: "requests per minute used up",
  tokens_per_minute: "tokens per minute used up",
  rate_limited: "the provider answered 429",
};

const STATE_EVENTS = new Set([
  "task.queued", "task.started", "llm.message", "tool.result", "artifact.created",
  "approval.required", "approval.decided", "input.required", "input.answered",
  "task.waiting_for_capacity", "task.completed", "task.failed", "task.cancelled",
  "context.compacted",
]);

function onEvent(event) {
  const handle = handlers[event.event];
  if (handle) handle(event.data);
  if (STATE_EVENTS.has(event.event)) setUpRerun(taskId);
loadTask();
}

function render(task) {
  document.getElementById("status").replaceWith(Object.assign(statusBadge(task.status), { id: "status" }));
  // Its calls waiting for a shared limit (each limit once): "waiting for capacity (llm:openai)".
  const limits = [...new Set((task.waiting_for_capacity || []).map((w) => w.limit))];
  const capacity = document.getElementById("capacity");
  capacity.textContent = limits.length ? `waiting for capacity (${limits.join(", ")})` : "";
  capacity.hidden = !limits.length;
  const session = document.getElementById("session");
  session.replaceChildren(el("a", { href: `/ui/?session_id=${encodeURIComponent(task.session_id)}` },
    el("code", { text: task.session_id })));
  document.getElementById("model").textContent = task.model || "–";
  document.getElementById("usage").textContent = formatUsage(task.usage);
  document.getElementById("iterations").textContent = String(task.iterations);
  document.getElementById("priority").textContent = task.priority ? `${task.priority} of 5` : "–";
  const queued = task.status === "queued" && task.queued_behind;
  document.getElementById("queued-fact").hidden = !queued;
  document.getElementById("queued-behind").replaceChildren(...(queued ? [taskLink(task.queued_behind, task.tenant)] : []));
  cancel.hidden = ["completed", "failed", "cancelled"].includes(task.status);
  if (task.temporal_ui_url) {
    temporalLink.href = task.temporal_ui_url;
    temporalLink.hidden = false;
  }
  renderDecisions(task);
  renderArtifacts(task.artifacts || []);
  renderLinks(task);
}

// What the task made: its files (downloads; images shown), links, structured values.
function renderArtifacts(made) {
  const key = made.map((a) => a.artifact_id).join(",");
  if (key === shownArtifacts) return;
  shownArtifacts = key;
  artifacts.hidden = !made.length;
  const stored = made.filter((a) => !a.url || a.blob);
  const links = made.filter((a) => a.url && !a.blob);
  const files = stored.map((a) => ({
    path: `${taskPath}/artifacts/${encodeURIComponent(a.artifact_id)}`,
    name: a.name || a.artifact_id,
    mediaType: a.media_type,
    size: a.size,
  }));
  artifacts.replaceChildren(el("h2", { text: "Artifacts" }), fileList(files),
    ...(links.length ? [el("ul", { class: "files" }, ...links.map((a) => el("li", {},
      el("a", { href: a.url, target: "_blank", rel: "noopener noreferrer", text: `${a.name || a.url} (link)` }))))] : []));
}

function renderDecisions(task) {
  const calls = task.pending_approval?.tool_calls || [];
  const key = calls.length ? `calls:${calls.map((c) => c.id).join(",")}`
    : task.pending_input ? `questions:${task.pending_input.id}` : "";
  if (key === pendingKey) return; // keep what a person is typing
  pendingKey = key;
  const onSent = (text) => {
    notify(text, "success");
    decisions.replaceChildren();
    decisions.hidden = true;
    pendingKey = "";
  };
  if (calls.length) {
    const schemas = task.pending_approval.parameters || {};
    const group = {
      task_id: task.task_id,
      session_id: task.session_id,
      nested: task.pending_approval.nested,
      calls: calls.map((call) => ({ ...call, parameters: schemas[call.name] || null })),
    };
    decisions.replaceChildren(approvalForm(group, { onSent }));
  } else if (task.pending_input) {
    decisions.replaceChildren(questionsForm(task, { onSent }));
  } else {
    decisions.replaceChildren();
  }
  decisions.hidden = !key;
}

let loading = null;
let again = false;
// Load the task's state; a call while a load is in flight loads once more after it, so the
// last event's change is never missed.
async function loadTask() {
  if (loading) {
    again = true;
    return loading;
  }
  loading = (async () => {
    do {
      again = false;
      try {
        render(await api(`/api/v1/tasks/${encodeURIComponent(taskId)}`));
        await loadSteps(taskId);
      } catch (error) {
        notify(`Could not load the task: ${describeError(error)}`, "error");
      }
    } while (again);
    loading = null;
  })();
  return loading;
}

cancel.addEventListener("click", async () => {
  cancel.disabled = true;
  try {
    await api(`/api/v1/tasks/${encodeURIComponent(taskId)}/cancel`, { method: "POST" });
    notify("Cancel requested; the task ends as cancelled.", "success");
  } catch (error) {
    notify(`Could not cancel: ${describeError(error)}`, "error");
  } finally {
    cancel.disabled = false;
  }
});

const STATES = { live: "live", reconnecting: "reconnecting…", ended: "ended" };
const follower = followEvents(taskId, onEvent, {
  onState(state, error) {
    streamState.textContent = STATES[state] || `stopped: ${describeError(error)}`;
    streamState.dataset.state = state;
    if (state === "error") notify(`The event stream stopped: ${describeError(error)}`, "error");
  },
});
// For a person (or a test) to try the reconnect: the stream resumes after the last event.
window.temporalExecutorConsole = { dropStream: () => follower.drop(), lastEventId: () => follower.last };
setUpRerun(taskId);
loadTask();

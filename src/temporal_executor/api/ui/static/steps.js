// The Task page's time travel: the task's steps (LLM and tool calls, numbered as they ran),
// a "Fork from here" button on each (a form for the edits: a message, a model, a replaced
// tool result), where the task was forked from and its forks, and re-running an ended task.

import { api, describeError, el, notify, taskLink } from "./app.js";

const list = document.getElementById("steps");
const links = document.getElementById("links");
let shown = ""; // the steps as last drawn: a fork form being filled in is kept

function stepLine(step, ...more) {
  const what = step.kind === "llm" ? step.model : step.tool;
  const output = step.output;
  let said = "(not finished)";
  if (output) {
    const calls = output.tool_calls || [];
    said = step.kind === "tool" ? String(output.content)
      : calls.length ? `calls ${calls.map((c) => c.name).join(", ")}` : String(output.content || "");
  }
  return el("div", { class: "step-line" },
    el("span", { class: "step-number", text: String(step.step) }),
    el("span", { class: `badge kind-${step.kind}`, text: step.kind }),
    el("code", { text: what || step.call }),
    step.side_effects ? el("span", { class: "badge side-effects", text: "side effects" }) : null,
    step.reused ? el("span", { class: "badge reused", text: `from ${step.task_id}` }) : null,
    step.overridden ? el("span", { class: "badge reused", text: "result replaced" }) : null,
    el("span", { class: "step-said", text: said.length > 120 ? `${said.slice(0, 120)}…` : said }),
    ...more);
}

function forkForm(taskId, step, steps) {
  const earlier = steps.filter((s) => s.step < step.step && s.kind === "tool");
  const message = el("textarea", { name: "user_message", rows: "2",
    placeholder: step.step === 1 ? "the task's message, edited (optional)" : "a message before this step (optional)" });
  const model = el("input", { name: "model", placeholder: "provider/model (optional)" });
  const override = el("select", { name: "override_call" }, el("option", { value: "", text: "no tool result replaced" }),
    ...earlier.map((s) => el("option", { value: s.call, text: `step ${s.step}: ${s.tool} (${s.call})` })));
  const content = el("textarea", { name: "override_content", rows: "2", placeholder: "the replacing result" });
  const reused = step.step - 1;
  const form = el("form", { class: "form fork-form" },
    el("p", { class: "label", text: reused ? `Steps 1–${reused} are reused as recorded (${reused} calls not made again); step ${step.step} on runs anew.` : "Nothing is reused: the whole task runs anew." }),
    el("label", {}, "Message", message),
    el("label", {}, "Model", model),
    earlier.length ? el("label", {}, "Replace a tool result", override, content) : null,
    el("button", { type: "submit", class: "primary", text: `Fork at step ${step.step}` }));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const body = { at_step: step.step };
    if (message.value.trim()) body.user_message = message.value.trim();
    const [provider, ...name] = model.value.trim().split("/");
    if (model.value.trim()) body.model_config = { provider, model: name.join("/") };
    if (override.value) body.tool_result_overrides = { [override.value]: content.value };
    await start(`/api/v1/tasks/${encodeURIComponent(taskId)}/fork`, body, form.querySelector("button"));
  });
  return form;
}

// Start the fork (or re-run) and go to its page.
async function start(path, body, button) {
  button.disabled = true;
  try {
    const fork = await api(path, { method: "POST", body });
    location.assign(`/ui/tasks/${encodeURIComponent(fork.task_id)}${location.search}`);
  } catch (error) {
    notify(`Could not start it: ${describeError(error)}`, "error");
    button.disabled = false;
  }
}

export async function loadSteps(taskId) {
  let steps;
  try {
    steps = (await api(`/api/v1/tasks/${encodeURIComponent(taskId)}/steps`)).steps;
  } catch (error) {
    notify(`Could not load the steps: ${describeError(error)}`, "error");
    return;
  }
  const key = JSON.stringify(steps.map((s) => [s.step, s.output !== null]));
  if (key === shown) return;
  shown = key;
  list.replaceChildren(...steps.map((step) => {
    const fork = el("button", { type: "button", class: "link fork", text: "Fork from here" });
    const item = el("li", { class: "step", "data-step": String(step.step) }, stepLine(step, fork));
    fork.addEventListener("click", () => {
      const open = item.querySelector(".fork-form");
      if (open) open.remove();
      else item.append(forkForm(taskId, step, steps));
    });
    return item;
  }));
  list.parentElement.hidden = !steps.length;
}

// Where the task came from and its forks; the re-run button once it has ended.
export function renderLinks(task) {
  const parts = [];
  if (task.forked_from) {
    parts.push(el("span", {}, "Forked from ", taskLink(task.forked_from.task_id, task.tenant),
      ` at step ${task.forked_from.at_step}`));
  }
  if (task.forks?.length) {
    parts.push(el("span", {}, "Forks: ", ...task.forks.flatMap((id, i) => [i ? ", " : "", taskLink(id, task.tenant)])));
  }
  links.replaceChildren(...parts);
  links.hidden = !parts.length;
  const rerun = document.getElementById("rerun");
  rerun.hidden = !["completed", "failed", "cancelled"].includes(task.status);
}

export function setUpRerun(taskId) {
  const rerun = document.getElementById("rerun");
  rerun.addEventListener("click", () => start(`/api/v1/tasks/${encodeURIComponent(taskId)}/rerun`, {}, rerun));
}

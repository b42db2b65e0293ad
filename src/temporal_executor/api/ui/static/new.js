// The New task page: a prompt, a provider and model, tools and require-approval from what the
// server offers (GET /api/v1/catalog); submits POST /api/v1/execute and opens the task.

import { api, describeError, el, notify } from "./app.js";

const form = document.getElementById("new-task");
const provider = document.getElementById("provider");
const model = document.getElementById("model");
const toolsBox = document.getElementById("tools");
const formError = document.getElementById("form-error");
let catalog = null;

function showError(text, field) {
  formError.textContent = text;
  formError.hidden = !text;
  if (field) field.focus();
}

function defaultModel(name) {
  const entry = catalog.providers.find((p) => p.name === name);
  return entry?.default_model || "";
}

async function load() {
  catalog = await api("/api/v1/catalog");
  provider.replaceChildren(...catalog.providers.map((p) => el("option", { value: p.name, text: p.name })));
  if (catalog.default_agent) provider.value = catalog.default_agent.provider;
  model.value = defaultModel(provider.value);
  catalog.tools.forEach((tool, index) => {
    const id = `tool-${index}`;
    toolsBox.append(el("div", { class: "tool-option" },
      el("input", { type: "checkbox", id, name: "tools", value: String(index) }),
      el("label", { for: id }, el("span", { class: "tool", text: tool.name }), ` (${tool.type})`,
        tool.description ? el("small", { class: "description", text: ` ${tool.description}` }) : null)));
  });
  document.getElementById("no-tools").hidden = catalog.tools.length > 0;
  document.getElementById("require-approval").checked = catalog.require_approval === true;
}

provider.addEventListener("change", () => {
  model.value = defaultModel(provider.value);
});

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  const prompt = form.elements.user_message.value.trim();
  if (!prompt) return showError("Write a prompt first.", form.elements.user_message);
  if (!model.value.trim()) return showError("Name a model.", model);
  const body = {
    user_message: prompt,
    model_config: { provider: provider.value, model: model.value.trim() },
    tools: [...form.querySelectorAll("input[name=tools]:checked")].map((box) => catalog.tools[Number(box.value)].spec),
    require_approval: document.getElementById("require-approval").checked,
  };
  const system = form.elements.system_message.value.trim();
  if (system) body.system_message = system;
  const session = form.elements.session_id.value.trim();
  if (session) body.session_id = session;
  const iterations = form.elements.max_iterations.value;
  if (iterations) body.max_iterations = Number(iterations);
  showError("");
  const submit = form.querySelector("button[type=submit]");
  submit.disabled = true;
  try {
    const accepted = await api("/api/v1/execute", { method: "POST", body });
    location.assign(`/ui/tasks/${encodeURIComponent(accepted.task_id)}`);
  } catch (error) {
    showError(`Not started: ${describeError(error)}`);
    submit.disabled = false;
  }
});

load().catch((error) => notify(`Could not load what this server offers: ${describeError(error)}`, "error"));

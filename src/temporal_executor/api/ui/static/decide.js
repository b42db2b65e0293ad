// The forms a person decides with, shared by the Approvals inbox and the Task page: the tool
// calls one task waits on (approve, reject with a reason, edit the arguments as JSON) and the
// questions it asks (ask_user).

import { api, describeError, el, prettyJson, taskLink } from "./app.js";
import { canonical, parseArguments, validate } from "./schema.js";

let serial = 0;

// "agent helper (its task T)": whose calls or questions these are, when another agent's.
function nestedNote(nested) {
  return el("p", { class: "nested" }, "Asked by agent ", el("span", { class: "tool", text: nested.subagent_name }),
    " (its task ", el("code", { text: nested.task_id }), "), which this task called as a tool");
}

function callArticle(call, decide, nested) {
  const id = `call-${++serial}`;
  const original = canonical(call.arguments ?? {});
  const editor = el("textarea", {
    id: `${id}-arguments`,
    class: "json",
    rows: Math.min(12, prettyJson(call.arguments ?? {}).split("\n").length + 1),
    spellcheck: "false",
    "aria-describedby": `${id}-problem`,
  });
  editor.value = prettyJson(call.arguments ?? {});
  // Another agent's call runs with the arguments that agent gave: they are shown, not edited.
  editor.readOnly = Boolean(nested);
  const problem = el("p", { id: `${id}-problem`, class: "error", role: "alert", hidden: true });
  const reason = el("input", { id: `${id}-reason`, name: "reason", autocomplete: "off" });
  const state = el("p", { class: "decided", hidden: true });
  const approve = el("button", { type: "button", class: "primary", text: "Approve" });
  const reject = el("button", { type: "button", class: "danger", text: "Reject" });
  const undo = el("button", { type: "button", class: "link", text: "Undo", hidden: true });
  const schema = call.parameters;

  function showProblem(text) {
    problem.textContent = text;
    problem.hidden = !text;
    editor.toggleAttribute("aria-invalid", Boolean(text));
    if (text) editor.focus();
  }

  function decided(text) {
    state.textContent = text;
    state.hidden = !text;
    approve.disabled = reject.disabled = reason.readOnly = Boolean(text);
    editor.readOnly = Boolean(text) || Boolean(nested);
    undo.hidden = !text;
  }

  approve.addEventListener("click", () => {
    const parsed = parseArguments(editor.value);
    if (parsed.error) return showProblem(parsed.error);
    const decision = { approved: true };
    if (canonical(parsed.value) !== original) {
      const problems = schema ? validate(parsed.value, schema) : [];
      if (problems.length) return showProblem(`Does not fit the tool's schema: ${problems.join("; ")}`);
      decision.arguments = parsed.value;
    }
    showProblem("");
    decided(decision.arguments ? "Approve with edited arguments" : "Approve");
    decide(call.id, decision);
  });
  reject.addEventListener("click", () => {
    showProblem("");
    const decision = { approved: false };
    if (reason.value.trim()) decision.reason = reason.value.trim();
    decided(decision.reason ? `Reject: ${decision.reason}` : "Reject");
    decide(call.id, decision);
  });
  undo.addEventListener("click", () => {
    decided("");
    decide(call.id, null);
  });

  const article = el(
    "article",
    { class: "call", "data-call-id": call.id, "aria-labelledby": `${id}-title` },
    el("h3", { id: `${id}-title` }, el("span", { class: "tool", text: call.name }), " ",
      el("small", { text: call.id })),
    el("label", {
      for: editor.id,
      text: nested ? "Arguments (the agent's, as it asked)" : "Arguments (JSON; edit before approving)",
    }),
    editor,
    problem,
    el("label", {
      for: reason.id,
      text: `Reason (sent to the ${nested ? "agent" : "model"} when you reject)`,
    }),
    reason,
    el("div", { class: "buttons" }, approve, reject, undo),
    state,
  );
  article.reset = () => decided("");
  return article;
}

// A task's pending calls: {task_id, session_id, requested_at?, nested?, calls: [{id, name,
// arguments, parameters}]}; `nested` when they are another agent's (the task called it as a
// tool). The decision is sent once every call has one; `onSent(text)` then.
export function approvalForm(group, { onSent }) {
  const decisions = new Map();
  const error = el("p", { class: "error", role: "alert", hidden: true });
  const rememberBox = el("input", { type: "checkbox", name: "remember" });
  const articles = [];

  async function send() {
    const body = { tool_calls: {} };
    for (const [id, decision] of decisions) {
      body.tool_calls[id] = decision.approved && rememberBox.checked ? { ...decision, remember: "session" } : decision;
    }
    error.hidden = true;
    section.setAttribute("aria-busy", "true");
    try {
      await api(`/api/v1/approve/agent-execution-${encodeURIComponent(group.task_id)}`, {
        method: "POST",
        body,
        tenant: group.tenant,
      });
      const approved = [...decisions.values()].filter((d) => d.approved).length;
      const rejected = decisions.size - approved;
      const parts = [approved && `approved ${approved}`, rejected && `rejected ${rejected}`].filter(Boolean);
      onSent(`Task ${group.task_id}: ${parts.join(", ")} tool call${decisions.size > 1 ? "s" : ""}.`);
    } catch (failure) {
      error.textContent = `Not sent: ${describeError(failure)}`;
      error.hidden = false;
      decisions.clear();
      articles.forEach((article) => article.reset());
    } finally {
      section.removeAttribute("aria-busy");
    }
  }

  function decide(callId, decision) {
    if (decision === null) decisions.delete(callId);
    else decisions.set(callId, decision);
    const missing = group.calls.length - decisions.size;
    waiting.textContent = missing && decisions.size ? `Decide ${missing} more call${missing > 1 ? "s" : ""} to send.` : "";
    if (!missing) send();
  }

  const waiting = el("p", { class: "hint", "aria-live": "polite" });
  for (const call of group.calls) articles.push(callArticle(call, decide, group.nested));
  const remember = el("label", { class: "check" }, rememberBox,
    " Approve and stop asking: later calls of the approved tools in this session run without asking");
  remember.hidden = Boolean(group.nested); // the other agent's tools are not this session's
  const section = el(
    "section",
    { class: "decision", "data-task-id": group.task_id, "aria-label": `Tool calls of task ${group.task_id}` },
    el("h2", {}, "Task ", taskLink(group.task_id, group.tenant), " ",
      el("small", { text: `session ${group.session_id}` })),
    ...(group.nested ? [nestedNote(group.nested)] : []),
    ...articles,
    remember,
    waiting,
    error,
  );
  return section;
}

// The questions a task asks: {task_id, session_id, pending_input: {id, questions, nested?}}
// (`nested`: another agent asks them).
export function questionsForm(task, { onSent }) {
  const pending = task.pending_input;
  const error = el("p", { class: "error", role: "alert", hidden: true });
  const fields = pending.questions.map((question, index) => {
    const id = `q-${++serial}`;
    if (question.choices && question.choices.length) {
      const type = question.multiple ? "checkbox" : "radio";
      const options = question.choices.map((choice) =>
        el("label", { class: "check" }, el("input", { type, name: id, value: choice }), ` ${choice}`));
      const fieldset = el("fieldset", {}, el("legend", { text: question.question }), ...options);
      fieldset.answer = () => [...fieldset.querySelectorAll("input:checked")].map((input) => input.value);
      return fieldset;
    }
    const input = el("input", { id, name: `answer-${index}`, autocomplete: "off" });
    const wrapper = el("div", {}, el("label", { for: id, text: question.question }), input);
    wrapper.answer = () => (input.value.trim() ? [input.value.trim()] : []);
    return wrapper;
  });
  const submit = el("button", { type: "submit", class: "primary", text: "Send answers" });
  const form = el(
    "form",
    { class: "decision questions", "data-task-id": task.task_id },
    el("h2", {}, "Questions from task ", taskLink(task.task_id, task.tenant)),
    ...(pending.nested ? [nestedNote(pending.nested)] : []),
    ...fields,
    error,
    submit,
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const answers = fields.map((field) => field.answer());
    const empty = answers.findIndex((answer) => answer.length === 0);
    if (empty >= 0) {
      error.textContent = `Answer question ${empty + 1}: "${pending.questions[empty].question}".`;
      error.hidden = false;
      return;
    }
    error.hidden = true;
    submit.disabled = true;
    try {
      await api(`/api/v1/tasks/${encodeURIComponent(task.task_id)}/answer`, {
        method: "POST",
        body: { id: pending.id, answers },
        tenant: task.tenant,
      });
      onSent(`Task ${task.task_id}: answers sent.`);
    } catch (failure) {
      error.textContent = `Not sent: ${describeError(failure)}`;
      error.hidden = false;
      submit.disabled = false;
    }
  });
  return form;
}

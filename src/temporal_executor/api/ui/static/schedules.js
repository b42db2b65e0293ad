// The Schedules page: every schedule with its timetable, state, last run (its task) and next
// run; pause and resume; refreshed every 5 s. An admin key's list spans every tenant: each
// schedule is acted on, and its task opened, in its own.

import { api, describeError, el, notify, poll, taskLink } from "./app.js";

const body = document.querySelector("#schedules tbody");
const live = document.getElementById("live");
const empty = document.getElementById("empty");

function when(schedule) {
  if (schedule.cron) return `cron ${schedule.cron} (${schedule.time_zone})`;
  return `every ${schedule.interval}`;
}

function state(schedule) {
  if (schedule.paused === null) return "gone from Temporal";
  return schedule.paused ? "paused" : "active";
}

function moment(iso) {
  return iso ? el("time", { datetime: iso, text: new Date(iso).toLocaleString() }) : "–";
}

async function toggle(schedule, button) {
  const action = schedule.paused ? "resume" : "pause";
  button.disabled = true;
  try {
    await api(`/api/v1/schedules/${encodeURIComponent(schedule.schedule_id)}/${action}`, {
      method: "POST",
      tenant: schedule.tenant,
    });
    notify(`Schedule ${schedule.schedule_id} ${action === "pause" ? "paused" : "resumed"}.`, "success");
  } catch (error) {
    notify(`Could not ${action} ${schedule.schedule_id}: ${describeError(error)}`, "error");
  }
  await refresh();
}

function row(schedule) {
  const last = schedule.recent_runs.at(-1);
  const actions = el("td");
  if (schedule.paused !== null) {
    const button = el("button", { type: "button", text: schedule.paused ? "Resume" : "Pause" });
    button.addEventListener("click", () => toggle(schedule, button));
    actions.append(button);
  }
  const tenant = schedule.tenant !== "default" ? el("small", { class: "tenant", text: schedule.tenant }) : null;
  return el("tr", { "data-schedule-id": schedule.schedule_id },
    el("td", {}, el("code", { text: schedule.schedule_id }), tenant ? " " : null, tenant),
    el("td", { text: when(schedule) }),
    el("td", {}, el("span", { class: `badge schedule-${state(schedule).split(" ")[0]}`, text: state(schedule) })),
    el("td", {}, last ? taskLink(last.task_id, schedule.tenant) : "–"),
    el("td", {}, schedule.paused ? "–" : moment(schedule.next_runs[0])),
    el("td", { text: schedule.template.user_message || "" }),
    actions);
}

async function refresh() {
  const { schedules } = await api("/api/v1/schedules");
  body.replaceChildren(...schedules.map(row));
  empty.hidden = schedules.length > 0;
  live.textContent = `updated ${new Date().toLocaleTimeString()}`;
}

poll(refresh, 5000, (error) => {
  live.textContent = "not updating";
  notify(`Could not load schedules: ${describeError(error)}`, "error");
});

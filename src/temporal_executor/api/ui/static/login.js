// The login form: checks the token against the API, keeps it in sessionStorage (and starts
// the codec server's session, for the Temporal UI), goes back.

import {
  api, ApiError, codecSession, describeError, setToken, takeLoginMessage, token,
} from "./app.js";

const form = document.getElementById("login");
const message = document.getElementById("login-message");
const error = document.getElementById("login-error");
const input = document.getElementById("token");
const next = new URLSearchParams(location.search).get("next");
const target = next && next.startsWith("/ui") ? next : "/ui/";

const reason = takeLoginMessage();
if (reason) {
  message.textContent = reason;
  message.hidden = false;
}
input.focus();

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  const previous = token();
  setToken(input.value.trim());
  error.hidden = true;
  try {
    await api("/api/v1/tasks?limit=1", { redirectOn401: false });
    await codecSession("POST");
    location.assign(target);
  } catch (failure) {
    setToken(previous);
    error.textContent = failure instanceof ApiError && failure.status === 401
      ? "That token was refused (401). Check it and try again."
      : `Could not check the token: ${describeError(failure)}`;
    error.hidden = false;
    input.focus();
    input.select();
  }
});

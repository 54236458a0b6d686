// The sign-in form: POST JSON to the API, then go to the (server-checked, local) next page.
"use strict";

(() => {
  const form = document.getElementById("login-form");
  const problem = document.getElementById("login-error");
  const button = form.querySelector("button[type=submit]");

  function explain(error) {
    if (error.status === 401) return "Invalid e-mail or password.";
    if (error.status === 429) {
      const wait = error.retryAfter ? ` Try again in ${error.retryAfter} s.` : "";
      return `Too many attempts.${wait}`;
    }
    if (error.status === 503) return "Sign-in is temporarily unavailable; please try again shortly.";
    return error.message;
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    problem.hidden = true;
    if (!form.reportValidity()) return;
    button.disabled = true;
    try {
      await window.jsonApi.call("POST", "/api/v1/auth/login", {
        email: form.email.value.trim(),
        password: form.password.value,
      });
      window.location.assign(form.dataset.next || "/admin");
    } catch (error) {
      problem.textContent = explain(error);
      problem.hidden = false;
      button.disabled = false;
      form.password.select();
    }
  });
})();

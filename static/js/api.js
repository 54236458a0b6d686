// Same-origin JSON calls for the dashboard pages, and the logout button.
// Writes are JSON (the API's CSRF rule); the session cookie rides along (same origin only).
"use strict";

window.jsonApi = {
  async call(method, url, body) {
    const response = await fetch(url, {
      method,
      credentials: "same-origin",
      cache: "no-store",
      headers: { "Content-Type": "application/json", Accept: "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    let data = null;
    if (response.status !== 204) {
      try {
        data = await response.json();
      } catch (_) {
        data = null;
      }
    }
    if (!response.ok) {
      const error = new Error((data && data.message) || `HTTP ${response.status}`);
      error.status = response.status;
      error.retryAfter = response.headers.get("Retry-After");
      throw error;
    }
    return data;
  },
};

document.addEventListener("click", async (event) => {
  const button = event.target.closest("[data-logout]");
  if (!button) return;
  button.disabled = true;
  try {
    await window.jsonApi.call("POST", "/api/v1/auth/logout", {});
    window.location.assign("/login");
  } catch (error) {
    button.disabled = false;
    window.alert(`Could not log out: ${error.message}`);
  }
});

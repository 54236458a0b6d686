// The cache dashboard's controls. The page is rendered by the server; this script only calls the
// admin JSON API (enable, disable, TTL, purge) and refreshes the cells of the existing rows.
"use strict";

(() => {
  const api = document.body.dataset.adminApi;
  const status = document.getElementById("status");
  const COUNTERS = ["hit", "miss", "stale", "bypass"];

  function say(text, isError) {
    status.textContent = text;
    status.classList.toggle("alert-error", Boolean(isError));
    status.hidden = false;
  }

  function ratioOf(counters) {
    const served = (counters.hit || 0) + (counters.stale || 0);
    const total = served + (counters.miss || 0);
    return total ? served / total : null;
  }

  function percent(ratio) {
    return ratio === null ? "—" : `${(ratio * 100).toFixed(1)}%`;
  }

  function rows() {
    return Array.from(document.querySelectorAll("tr[data-endpoint]"));
  }

  function rowFor(endpoint) {
    return rows().find((row) => row.dataset.endpoint === endpoint) || null;
  }

  function field(row, name) {
    return row.querySelector(`[data-field="${name}"]`);
  }

  function routesOf(payload) {
    if (Array.isArray(payload)) return payload;
    return (payload && (payload.routes || payload.data)) || [];
  }

  function applyRoute(route) {
    const row = rowFor(route.endpoint);
    if (!row) return false;
    const counters = route.counters || {};
    const enabled = Boolean(route.enabled);
    row.dataset.enabled = String(enabled);
    field(row, "scope").textContent = route.scope;
    const ttl = field(row, "ttl");
    if (document.activeElement !== ttl) ttl.value = Math.round(route.ttl);
    field(row, "default_ttl").textContent = `default ${Math.round(route.default_ttl)} s`;
    const state = field(row, "enabled");
    state.textContent = enabled ? "Enabled" : "Disabled";
    state.classList.toggle("pill-on", enabled);
    state.classList.toggle("pill-off", !enabled);
    const toggle = row.querySelector("[data-action=toggle]");
    toggle.textContent = enabled ? "Disable" : "Enable";
    toggle.setAttribute("aria-label", `${toggle.textContent} caching of ${route.endpoint}`);
    if (route.counters) {
      const ratio = ratioOf(counters);
      field(row, "hit_ratio").textContent = percent(ratio);
      field(row, "hit_meter").value = ratio || 0;
      for (const name of COUNTERS) field(row, name).textContent = counters[name] || 0;
    }
    return true;
  }

  function applySummary(routes) {
    const total = { hit: 0, miss: 0, stale: 0, bypass: 0 };
    for (const route of routes) {
      for (const name of COUNTERS) total[name] += (route.counters || {})[name] || 0;
    }
    const set = (name, text) => {
      document.querySelector(`[data-summary="${name}"]`).textContent = text;
    };
    set("routes", routes.length);
    set("enabled", routes.filter((route) => route.enabled).length);
    set("ratio", percent(ratioOf(total)));
    set("stale-bypass", `${total.stale} · ${total.bypass}`);
  }

  async function refresh() {
    const routes = routesOf(await window.jsonApi.call("GET", `${api}/routes`));
    const known = routes.every(applyRoute);
    if (!known || routes.length !== rows().length) {
      window.location.reload(); // the set of routes changed (a deploy): render it anew
      return;
    }
    applySummary(routes);
  }

  async function act(button, work, done) {
    button.disabled = true;
    try {
      await work();
      await refresh();
      say(done, false);
    } catch (error) {
      say(`Failed: ${error.message}`, true);
    } finally {
      button.disabled = false;
    }
  }

  function routeUrl(endpoint) {
    return `${api}/routes/${encodeURIComponent(endpoint)}`;
  }

  document.querySelector(".routes").addEventListener("click", (event) => {
    const button = event.target.closest("[data-action=toggle]");
    if (!button) return;
    const row = button.closest("tr");
    const enable = row.dataset.enabled !== "true";
    const endpoint = row.dataset.endpoint;
    act(
      button,
      () => window.jsonApi.call("PATCH", routeUrl(endpoint), { enabled: enable }),
      `${endpoint}: caching ${enable ? "enabled" : "disabled"}.`,
    );
  });

  document.querySelector(".routes").addEventListener("submit", (event) => {
    const form = event.target.closest(".ttl-form");
    if (!form) return;
    event.preventDefault();
    if (!form.reportValidity()) return;
    const ttl = Number(form.ttl.value);
    const endpoint = form.dataset.endpoint;
    act(
      form.querySelector("button"),
      () => window.jsonApi.call("PATCH", routeUrl(endpoint), { ttl }),
      `${endpoint}: TTL set to ${ttl} s.`,
    );
  });

  document.getElementById("purge-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const form = event.target;
    const tags = form.tags.value.split(/[\s,]+/).filter(Boolean);
    if (!tags.length) return;
    act(
      form.querySelector("button"),
      () => window.jsonApi.call("POST", `${api}/purge`, { tags }),
      `Purged tag${tags.length > 1 ? "s" : ""}: ${tags.join(", ")}.`,
    );
  });

  const refreshButton = document.getElementById("refresh");
  refreshButton.addEventListener("click", () => act(refreshButton, async () => {}, "Refreshed."));
})();

// The ops console: stream health, dead letters (replay / purge one, a selection, or all), a
// task's jobs, the audit trail; all from /api/v1/admin/…, refreshed every few seconds.
import { api, ApiError, el, setLanguage, setToken, show } from "/static/common/api.js";

// operators read English (docs/languages.md): the API's sentences too, whatever the browser's
setLanguage("en");

const $ = (id) => document.getElementById(id);
const state = { stream: "image-jobs", streams: [], letters: [], selected: new Set(), timer: null, busy: false };

function notice(text, isError = false) {
  const box = $("notice");
  box.textContent = text;
  box.classList.toggle("error", isError);
  show(box, Boolean(text));
}

function signedOut(error) {
  // 401: nobody signed in (or the token expired); 403: signed in, not an administrator
  show($("console"), false);
  show($("sign-in"), error.status === 401);
  show($("forbidden"), error.status === 403);
  stopTimer();
}

function duration(ms) {
  if (ms === null || ms === undefined) return "–";
  if (ms < 1000) return `${ms} ms`;
  const s = ms / 1000;
  if (s < 120) return `${s.toFixed(1)} s`;
  if (s < 7200) return `${(s / 60).toFixed(1)} min`;
  return `${(s / 3600).toFixed(1)} h`;
}

function renderStreams(data) {
  state.streams = data.streams;
  const rows = data.streams.map((s) =>
    el("tr", { "data-stream": s.stream },
      el("td", {}, el("strong", { text: s.stream }), el("div", { class: "muted", text: s.key })),
      el("td", { class: "num", text: s.length }),
      el("td", { class: "num", text: s.pending }),
      el("td", { class: "num", text: s.lag ?? "?" }),
      el("td", {}, s.consumers.length === 0
        ? el("span", { class: "muted", text: "none" })
        : s.consumers.map((c) => el("span", { class: "consumer", text: `${c.name} (${c.pending}, idle ${duration(c.idleMs)})` }))),
      el("td", { class: s.deadLetters > 0 ? "num warn" : "num", text: s.deadLetters }),
      el("td", { class: "num", text: s.outboxDue }),
    ));
  $("streams").tBodies[0].replaceChildren(...rows);
  const o = data.outbox;
  const age = o.oldestDueAgeSeconds === null ? "" : `, oldest due ${duration(o.oldestDueAgeSeconds * 1000)} ago`;
  $("outbox").textContent = `Outbox: ${o.due} due${age}, ${o.delayed} scheduled later.`;
  renderTabs();
}

function renderTabs() {
  const tabs = state.streams.map((s) =>
    el("button", {
      type: "button",
      "aria-pressed": s.stream === state.stream ? "true" : "false",
      onclick: () => { state.stream = s.stream; state.selected.clear(); refresh(); },
    }, `${s.stream} (${s.deadLetters})`));
  $("letter-streams").replaceChildren(...tabs);
  const current = state.streams.find((s) => s.stream === state.stream);
  $("replay-all").disabled = !current || !current.replayable || current.deadLetters === 0;
  $("purge-all").disabled = !current || current.deadLetters === 0;
}

function renderLetters(data) {
  state.letters = data.items;
  const present = new Set(data.items.map((item) => item.id));
  for (const id of [...state.selected]) if (!present.has(id)) state.selected.delete(id);
  const replayable = state.streams.find((s) => s.stream === state.stream)?.replayable ?? false;
  const rows = data.items.map((item) =>
    el("tr", { "data-letter": item.id },
      el("td", {}, el("input", {
        type: "checkbox",
        "aria-label": `select ${item.id}`,
        checked: state.selected.has(item.id),
        onchange: (event) => { toggle(item.id, event.target.checked); },
      })),
      el("td", {}, el("code", { text: item.id })),
      el("td", {}, item.jobId ? el("code", { text: item.jobId }) : "–"),
      el("td", {}, el("span", { class: "tag", text: item.reason })),
      el("td", { class: "num", text: item.attempts ?? "–" }),
      el("td", { text: item.failedAt ?? "–" }),
      el("td", { class: "error-text" }, item.error, item.errorCode ? el("div", { class: "muted", text: item.errorCode }) : null),
      el("td", {}, el("details", {}, el("summary", { text: "show" }),
        el("pre", { text: JSON.stringify(item.payload ?? item.raw, null, 2) }))),
      el("td", {},
        el("button", { type: "button", disabled: !replayable, onclick: () => act("replay", [item.id]) }, "Replay"),
        " ",
        el("button", { type: "button", class: "danger", onclick: () => act("purge", [item.id]) }, "Purge")),
    ));
  $("letters").tBodies[0].replaceChildren(...rows);
  show($("letters-empty"), data.items.length === 0);
  updateSelection(replayable);
}

function toggle(id, on) {
  if (on) state.selected.add(id);
  else state.selected.delete(id);
  updateSelection(state.streams.find((s) => s.stream === state.stream)?.replayable ?? false);
}

function updateSelection(replayable) {
  const count = state.selected.size;
  $("replay-selected").disabled = count === 0 || !replayable;
  $("purge-selected").disabled = count === 0;
  $("replay-selected").textContent = count ? `Replay selected (${count})` : "Replay selected";
  $("purge-selected").textContent = count ? `Purge selected (${count})` : "Purge selected";
  $("select-all").checked = count > 0 && count === state.letters.length;
}

function renderActions(data) {
  const rows = data.items.map((a) =>
    el("tr", {},
      el("td", { text: a.createdAt }),
      el("td", { text: a.userEmail }),
      el("td", {}, el("span", { class: "tag", text: a.action })),
      el("td", { text: a.stream ?? "–" }),
      el("td", {}, el("code", { text: JSON.stringify(a.target) })),
      el("td", {}, el("code", { text: JSON.stringify(a.outcome) })),
    ));
  $("actions").tBodies[0].replaceChildren(...rows);
}

async function act(action, ids) {
  const all = ids === "all";
  const what = all ? `every ${state.stream} dead letter` : `${ids.length} letter(s)`;
  if (action === "purge" && !window.confirm(`Delete ${what} without replaying? This cannot be undone.`)) return;
  if (action === "replay" && all && !window.confirm(`Replay ${what}?`)) return;
  try {
    const result = await api("POST", `/admin/dead-letters/${state.stream}/${action}`, all ? { all: true } : { ids });
    const more = result.interrupted ? " — more are left: run it again" : "";
    if (action === "replay") {
      const other = result.results.filter((r) => r.outcome !== "requeued").map((r) => `${r.id}: ${r.outcome}`);
      notice(`Replayed ${result.replayed} of ${result.total}${other.length ? ` (not replayed: ${other.join(", ")})` : ""}${more}.`);
    } else {
      notice(`Purged ${result.removed} of ${result.total}${more}.`);
    }
    for (const id of all ? [...state.selected] : ids) state.selected.delete(id);
  } catch (error) {
    notice(error instanceof ApiError ? `${action} failed: ${error.message} (${error.code})` : String(error), true);
  }
  await refresh();
}

async function searchTask(taskId) {
  const box = $("task");
  try {
    const task = await api("GET", `/admin/tasks/${encodeURIComponent(taskId.trim())}`);
    box.replaceChildren(
      el("p", {}, el("strong", { text: task.status }), ` · ${task.phase} · user `, el("code", { text: task.userId }),
        ` · updated ${task.updatedAt}`, task.traceId ? ` · trace ${task.traceId}` : ""),
      el("p", { class: "muted", text: task.prompt }),
      el("table", { id: "task-jobs" },
        el("thead", {}, el("tr", {}, ...["kind", "job", "status", "attempt", "error", "next attempt", "lease", "dead letters"].map((h) => el("th", { text: h })))),
        el("tbody", {}, ...task.jobs.map((job) => el("tr", { "data-job": job.id },
          el("td", { text: job.kind }),
          el("td", {}, el("code", { text: job.id })),
          el("td", {}, el("span", { class: "tag", text: job.status })),
          el("td", { class: "num", text: job.attempt }),
          el("td", { text: job.errorMessage ?? "" }),
          el("td", { text: job.nextAttemptAt ?? "" }),
          el("td", { text: job.leaseOwner ?? "" }),
          el("td", {}, job.deadLetters.map((id) => el("code", { class: "consumer", text: id }))),
        )))),
    );
  } catch (error) {
    if (error instanceof ApiError && (error.status === 401 || error.status === 403)) return signedOut(error);
    box.replaceChildren(el("p", { class: "warn", text: error.message }));
  }
}

async function refresh() {
  if (state.busy) return;
  state.busy = true;
  try {
    const [streams, letters, actions] = await Promise.all([
      api("GET", "/admin/streams"),
      api("GET", `/admin/dead-letters/${state.stream}?limit=200`),
      api("GET", "/admin/actions?limit=20"),
    ]);
    show($("sign-in"), false);
    show($("forbidden"), false);
    show($("console"), true);
    renderStreams(streams);
    renderLetters(letters);
    renderActions(actions);
    $("refreshed").textContent = `updated ${new Date().toLocaleTimeString()}`;
    if (!$("who").textContent) whoAmI();
    startTimer();
  } catch (error) {
    if (error instanceof ApiError && (error.status === 401 || error.status === 403)) signedOut(error);
    else notice(`Refresh failed: ${error.message}`, true);
  } finally {
    state.busy = false;
  }
}

async function whoAmI() {
  try {
    const me = await api("GET", "/auth/me");
    if (me.user) $("who").textContent = `signed in as ${me.user.email}`;
  } catch {
    // the console works without it
  }
}

function startTimer() {
  const seconds = Number($("refresh-every").value);
  if (state.timer !== null || seconds === 0) return;
  state.timer = window.setInterval(refresh, seconds * 1000);
}

function stopTimer() {
  if (state.timer !== null) window.clearInterval(state.timer);
  state.timer = null;
}

function boot() {
  $("refresh-now").addEventListener("click", refresh);
  $("refresh-every").addEventListener("change", () => { stopTimer(); startTimer(); });
  $("token-form").addEventListener("submit", (event) => {
    event.preventDefault();
    setToken($("token").value.trim());
    $("token").value = "";
    refresh();
  });
  $("sign-out").addEventListener("click", () => { setToken(null); $("who").textContent = ""; signedOut({ status: 401 }); });
  $("replay-selected").addEventListener("click", () => act("replay", [...state.selected]));
  $("purge-selected").addEventListener("click", () => act("purge", [...state.selected]));
  $("replay-all").addEventListener("click", () => act("replay", "all"));
  $("purge-all").addEventListener("click", () => act("purge", "all"));
  $("select-all").addEventListener("change", (event) => {
    const on = event.target.checked; // read once: each toggle updates this box
    for (const item of state.letters) toggle(item.id, on);
    renderLetters({ items: state.letters });
  });
  $("job-search").addEventListener("submit", (event) => { event.preventDefault(); searchTask($("task-id").value); });
  refresh();
}

boot();

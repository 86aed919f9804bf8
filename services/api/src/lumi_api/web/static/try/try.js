// The try-it page: sign in with an e-mail code, type a prompt, watch the four pictures being
// made, pick one, watch the model being made, turn it around in the viewer, make it public and
// find it in the gallery. Every call is one of the API's own routes, as the apps make them.
import { api, ApiError, el, setToken, show } from "/static/common/api.js";
import { Follower } from "/static/try/live.js";
import { Viewer } from "/static/try/viewer.js";

const $ = (id) => document.getElementById(id);
const state = { task: null, model: null, viewer: null, shownModel: null, email: "" };
const follower = new Follower(render, (channel) => { $("channel").textContent = `live: ${channel}`; });

function notice(text, isError = false) {
  $("notice").textContent = text;
  $("notice").classList.toggle("error", isError);
  show($("notice"), Boolean(text));
}

async function guarded(work) {
  try {
    notice("");
    await work();
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) return signedOut();
    notice(error instanceof ApiError ? `${error.message} (${error.code})` : String(error), true);
  }
}

async function boot() {
  $("send-code").addEventListener("submit", (event) => { event.preventDefault(); guarded(sendCode); });
  $("login").addEventListener("submit", (event) => { event.preventDefault(); guarded(logIn); });
  $("sign-out").addEventListener("click", () => guarded(signOut));
  $("prompt-form").addEventListener("submit", (event) => { event.preventDefault(); guarded(createTask); });
  $("publish").addEventListener("click", () => guarded(() => setVisibility("PUBLIC")));
  $("unpublish").addEventListener("click", () => guarded(() => setVisibility("PRIVATE")));
  const me = await api("GET", "/auth/me");
  if (me.status === "authenticated" && me.user) signedIn(me.user);
  else signedOut();
}

function signedOut() {
  setToken(null);
  follower.stop();
  $("who").textContent = "";
  show($("sign-out"), false);
  show($("sign-in"), true);
  for (const id of ["create", "task", "model", "gallery"]) show($(id), false);
}

function signedIn(user) {
  $("who").textContent = `signed in as ${user.email ?? user.nickName ?? user.userName}`;
  show($("sign-out"), true);
  show($("sign-in"), false);
  show($("create"), true);
  loadGallery();
}

async function sendCode() {
  state.email = $("email").value.trim();
  await api("POST", "/auth/send-code", { email: state.email, type: "login" });
  $("code-hint").textContent = `A code was sent to ${state.email}. Running locally with the console e-mail backend? The API prints it in its log (email.printed_not_sent).`;
  show($("login"), true);
  $("code").focus();
}

async function logIn() {
  const { token } = await api("POST", "/auth/login", { email: state.email, code: $("code").value.trim() });
  setToken(token); // the login also set the session cookie, which the event stream uses
  const me = await api("GET", "/auth/me");
  signedIn(me.user);
}

async function signOut() {
  await api("POST", "/auth/logout", {});
  signedOut();
}

async function createTask() {
  const task = await api("POST", "/tasks", { prompt: $("prompt").value.trim() });
  state.task = null;
  state.model = null;
  state.shownModel = null;
  show($("model"), false);
  render({ images: [], model: null, ...task });
  await follower.follow(task);
}

function render(task) {
  state.task = task;
  show($("task"), true);
  $("status").textContent = task.status;
  $("phase").textContent = task.phase;
  $("progress").value = progress(task);
  $("error").textContent = task.errorMessage ?? "";
  show($("error"), Boolean(task.errorMessage));
  renderImages(task);
  if (task.model) renderModel(task.model);
}

function progress(task) {
  if (task.status === "COMPLETED") return 100;
  if (task.model) return task.model.generationJob?.progress ?? 0;
  const done = (task.images ?? []).filter((image) => image.imageStatus === "COMPLETED").length;
  return done * 25;
}

function renderImages(task) {
  const choosing = task.status === "IMAGE_COMPLETED" && task.selectedImageIndex === null;
  show($("pick-hint"), choosing);
  const cells = (task.images ?? []).map((image) =>
    el("figure", { class: task.selectedImageIndex === image.index ? "image chosen" : "image", "data-index": image.index },
      image.imageUrl
        ? el("img", { src: image.imageUrl, alt: image.imagePrompt ?? `picture ${image.index + 1}` })
        : el("div", { class: "placeholder", text: image.imageStatus }),
      choosing && image.imageStatus === "COMPLETED"
        ? el("button", { type: "button", class: "primary", onclick: () => guarded(() => pick(image.index)) }, "Use this one")
        : null,
    ));
  $("images").replaceChildren(...cells);
}

async function pick(index) {
  const { task, model } = await api("PATCH", `/tasks/${state.task.id}`, { selectedImageIndex: index });
  render({ ...state.task, ...task, images: state.task.images, model });
  follower.resume();
}

async function renderModel(model) {
  state.model = model;
  show($("model"), true);
  $("visibility").textContent = model.visibility;
  show($("publish"), model.visibility !== "PUBLIC");
  show($("unpublish"), model.visibility === "PUBLIC");
  setLink($("download-obj"), model.modelUrl);
  setLink($("download-glb"), model.glbUrl);
  const ready = model.completedAt && model.modelUrl;
  if (!ready) {
    $("viewer-status").textContent = model.failedAt
      ? `The model failed: ${model.errorMessage ?? "unknown error"}`
      : `Making the model… ${model.generationJob?.progress ?? 0}%`;
    return;
  }
  if (state.shownModel === model.id) return;
  state.shownModel = model.id;
  $("viewer-status").textContent = "Loading the model…";
  state.viewer ??= new Viewer($("viewer"));
  await state.viewer.show(model);
  show($("viewer-status"), false);
  $("viewer").dataset.loaded = model.id;
  loadGallery();
}

function setLink(link, url) {
  show(link, Boolean(url));
  if (url) link.href = url;
}

async function setVisibility(visibility) {
  const model = await api("PATCH", `/models/${state.model.id}/visibility`, { visibility });
  state.model = { ...state.model, ...model };
  $("visibility").textContent = state.model.visibility;
  show($("publish"), state.model.visibility !== "PUBLIC");
  show($("unpublish"), state.model.visibility === "PUBLIC");
  await loadGallery();
}

async function loadGallery() {
  const page = await api("GET", "/gallery/models?sortBy=latest&limit=12");
  const mine = state.model?.id;
  const cards = page.items.map((item) =>
    el("figure", { class: item.id === mine ? "card-item mine" : "card-item", "data-model": item.id },
      item.previewImageUrl ? el("img", { src: item.previewImageUrl, alt: item.name }) : null,
      el("figcaption", {}, el("strong", { text: item.name }), el("div", { class: "muted", text: item.user?.name ?? "" })),
    ));
  $("gallery-items").replaceChildren(...cards);
  show($("gallery"), true);
  if (cards.length === 0) $("gallery-items").replaceChildren(el("p", { class: "muted", text: "No public models yet." }));
}

boot();

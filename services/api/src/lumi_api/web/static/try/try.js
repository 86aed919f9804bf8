// The try-it page: sign in with an e-mail code, type a prompt, watch the four pictures being
// made, pick one, watch the model being made, turn it around in the viewer, make it public and
// find it in the gallery. Every call is one of the API's own routes, as the apps make them.
// In zh-CN or en (i18n.js): the page's words, and the API's, which it asks for in that language.
import { api, ApiError, el, setLanguage, setToken, show } from "/static/common/api.js";
import { chooseLanguage, currentLanguage, label, t, translatePage } from "/static/try/i18n.js";
import { Follower } from "/static/try/live.js";
import { Viewer } from "/static/try/viewer.js";

const $ = (id) => document.getElementById(id);
const state = { task: null, model: null, viewer: null, shownModel: null, email: "", user: null, channel: null, codeSent: false };
const follower = new Follower(render, (channel) => {
  state.channel = channel;
  showChannel();
});

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

function applyLanguage() {
  const language = currentLanguage();
  setLanguage(language);
  translatePage();
  for (const button of document.querySelectorAll("#languages [data-language]")) {
    button.setAttribute("aria-pressed", String(button.dataset.language === language));
  }
  for (const format of ["obj", "glb"]) $(`download-${format}`).title = t("model.download", { format: format.toUpperCase() });
}

// the switch: the page's words now, the API's from the next call on (and the ones on screen
// that came from the API read again)
async function switchLanguage(language) {
  if (language === currentLanguage()) return;
  chooseLanguage(language);
  applyLanguage();
  notice(""); // its sentence was in the other language
  showWho();
  showCodeHint();
  showChannel();
  if (state.task) {
    renderTask(state.task);
    await guarded(async () => {
      const task = await api("GET", `/tasks/${state.task.id}/status`);
      if (state.task?.id === task.id) render(task);
    });
  }
  if (state.model) renderModel(state.model);
  if (!$("gallery").hidden) await guarded(loadGallery);
}

async function boot() {
  applyLanguage();
  for (const button of document.querySelectorAll("#languages [data-language]")) {
    button.addEventListener("click", () => switchLanguage(button.dataset.language));
  }
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
  state.user = null;
  showWho();
  show($("sign-out"), false);
  show($("sign-in"), true);
  for (const id of ["create", "task", "model", "gallery"]) show($(id), false);
}

function signedIn(user) {
  state.user = user;
  showWho();
  show($("sign-out"), true);
  show($("sign-in"), false);
  show($("create"), true);
  loadGallery();
}

async function sendCode() {
  state.email = $("email").value.trim();
  await api("POST", "/auth/send-code", { email: state.email, type: "login" });
  state.codeSent = true;
  showCodeHint();
  show($("login"), true);
  $("code").focus();
}

function showWho() {
  const user = state.user;
  $("who").textContent = user ? t("auth.who", { name: user.email ?? user.nickName ?? user.userName }) : "";
}

function showCodeHint() {
  $("code-hint").textContent = state.codeSent ? t("signIn.codeSent", { email: state.email }) : "";
}

function showChannel() {
  $("channel").textContent = state.channel ? t("task.live", { channel: label("channel", state.channel) }) : "";
  if (state.channel) $("channel").dataset.channel = state.channel;
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
  renderTask(task);
  if (task.model) renderModel(task.model);
}

// a code shown by its label in the page's language; the code itself in data-code and the title
function code(node, group, value) {
  node.textContent = label(group, value);
  node.dataset.code = value ?? "";
  node.title = value ?? "";
}

function renderTask(task) {
  state.task = task;
  show($("task"), true);
  code($("status"), "status", task.status);
  code($("phase"), "phase", task.phase);
  $("progress").value = progress(task);
  $("error").textContent = task.errorMessage ?? "";
  show($("error"), Boolean(task.errorMessage));
  renderImages(task);
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
        ? el("img", { src: image.imageUrl, alt: image.imagePrompt ?? t("task.picture", { n: image.index + 1 }) })
        : el("div", { class: "placeholder", "data-code": image.imageStatus, text: label("image", image.imageStatus) }),
      choosing && image.imageStatus === "COMPLETED"
        ? el("button", { type: "button", class: "primary", onclick: () => guarded(() => pick(image.index)) }, t("task.useThis"))
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
  code($("visibility"), "visibility", model.visibility);
  show($("publish"), model.visibility !== "PUBLIC");
  show($("unpublish"), model.visibility === "PUBLIC");
  setLink($("download-obj"), model.modelUrl);
  setLink($("download-glb"), model.glbUrl);
  const ready = model.completedAt && model.modelUrl;
  if (!ready) {
    $("viewer-status").textContent = model.failedAt
      ? t("model.failed", { reason: model.errorMessage ?? t("model.unknownError") })
      : t("model.making", { progress: model.generationJob?.progress ?? 0 });
    return;
  }
  if (state.shownModel === model.id) return;
  state.shownModel = model.id;
  $("viewer-status").textContent = t("model.loading");
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
  code($("visibility"), "visibility", state.model.visibility);
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
  if (cards.length === 0) $("gallery-items").replaceChildren(el("p", { class: "muted", text: t("gallery.empty") }));
}

boot();

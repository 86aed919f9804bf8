// The try-it page's own words, in the API's two languages (docs/languages.md). The language is
// the visitor's choice (the switch, kept in localStorage), else the browser's as the API picks
// it: the first zh or en in navigator.languages, else zh-CN. The page sends it as
// Accept-Language with its API calls, so the API's sentences match the page's.
// Codes (statuses, error codes) stay as the API sends them; a label is shown for them, the code
// is kept in a data attribute and a title.

export const LANGUAGES = ["zh-CN", "en"];
export const DEFAULT_LANGUAGE = "zh-CN";
const STORAGE_KEY = "lumi.language";

const TEXTS = {
  "zh-CN": {
    "page.title": "Lumi — 试一试",
    "page.heading": "Lumi — 试一试",
    "page.tagline": "一句描述 → 四张图片 → 一个可打印的 3D 模型",
    "language.label": "界面语言",
    "auth.who": "已登录：{name}",
    "auth.signOut": "退出登录",
    "signIn.heading": "1 · 登录",
    "signIn.email": "邮箱",
    "signIn.emailPlaceholder": "you@example.com",
    "signIn.sendCode": "发送验证码",
    "signIn.codeSent":
      "验证码已发送至 {email}。在本地用控制台邮件后端运行？API 会把验证码打印在日志里（email.printed_not_sent）。",
    "signIn.code": "验证码",
    "signIn.codePlaceholder": "6 位验证码",
    "signIn.submit": "登录",
    "create.heading": "2 · 描述一个想打印的东西",
    "create.prompt": "描述",
    "create.promptPlaceholder": "一只小猫头鹰摆件",
    "create.generate": "生成",
    "task.heading": "3 · 进度",
    "task.progress": "进度",
    "task.live": "实时：{channel}",
    "task.pickHint": "选一张图片，模型将照它生成。",
    "task.useThis": "用这张",
    "task.picture": "图片 {n}",
    "model.heading": "4 · 你的模型",
    "model.viewer": "3D 模型查看器",
    "model.waiting": "模型做好后显示在这里。",
    "model.making": "正在生成模型… {progress}%",
    "model.loading": "正在加载模型…",
    "model.failed": "模型生成失败：{reason}",
    "model.unknownError": "未知错误",
    "model.help": "拖动旋转，滚轮缩放。",
    "model.visibility": "可见性：",
    "model.publish": "设为公开",
    "model.unpublish": "设为私有",
    "model.download": "下载 {format} 文件",
    "gallery.heading": "作品广场（最新公开的模型）",
    "gallery.empty": "还没有公开的模型。",
    "channel.SSE": "SSE",
    "channel.polling": "轮询",
    "status.IMAGE_PENDING": "等待生成图片",
    "status.IMAGE_GENERATING": "正在生成图片",
    "status.IMAGE_COMPLETED": "图片已生成",
    "status.IMAGE_FAILED": "图片生成失败",
    "status.MODEL_PENDING": "等待生成模型",
    "status.MODEL_GENERATING": "正在生成模型",
    "status.MODEL_COMPLETED": "模型已生成",
    "status.MODEL_FAILED": "模型生成失败",
    "status.COMPLETED": "已完成",
    "status.FAILED": "失败",
    "status.CANCELLED": "已取消",
    "phase.IMAGE_GENERATION": "图片阶段",
    "phase.AWAITING_SELECTION": "等待选图",
    "phase.MODEL_GENERATION": "模型阶段",
    "phase.COMPLETED": "已结束",
    "image.PENDING": "排队中",
    "image.GENERATING": "生成中…",
    "image.COMPLETED": "已完成",
    "image.FAILED": "生成失败",
    "visibility.PUBLIC": "公开",
    "visibility.PRIVATE": "私有",
  },
  en: {
    "page.title": "Lumi — try it",
    "page.heading": "Lumi — try it",
    "page.tagline": "a prompt → four pictures → a printable 3D model",
    "language.label": "Page language",
    "auth.who": "signed in as {name}",
    "auth.signOut": "Sign out",
    "signIn.heading": "1 · Sign in",
    "signIn.email": "E-mail",
    "signIn.emailPlaceholder": "you@example.com",
    "signIn.sendCode": "Send me a code",
    "signIn.codeSent":
      "A code was sent to {email}. Running locally with the console e-mail backend? The API prints it in its log (email.printed_not_sent).",
    "signIn.code": "Code",
    "signIn.codePlaceholder": "6-digit code",
    "signIn.submit": "Sign in",
    "create.heading": "2 · Describe something to print",
    "create.prompt": "Prompt",
    "create.promptPlaceholder": "a small owl figurine",
    "create.generate": "Generate",
    "task.heading": "3 · Progress",
    "task.progress": "Progress",
    "task.live": "live: {channel}",
    "task.pickHint": "Pick the picture the model should be made from.",
    "task.useThis": "Use this one",
    "task.picture": "picture {n}",
    "model.heading": "4 · Your model",
    "model.viewer": "3D model viewer",
    "model.waiting": "The model appears here when it is ready.",
    "model.making": "Making the model… {progress}%",
    "model.loading": "Loading the model…",
    "model.failed": "The model failed: {reason}",
    "model.unknownError": "unknown error",
    "model.help": "Drag to rotate, scroll to zoom.",
    "model.visibility": "Visibility:",
    "model.publish": "Make it public",
    "model.unpublish": "Make it private",
    "model.download": "Download the {format} file",
    "gallery.heading": "Gallery (latest public models)",
    "gallery.empty": "No public models yet.",
    "channel.SSE": "SSE",
    "channel.polling": "polling",
    "status.IMAGE_PENDING": "Waiting for the pictures",
    "status.IMAGE_GENERATING": "Making the pictures",
    "status.IMAGE_COMPLETED": "Pictures ready",
    "status.IMAGE_FAILED": "The pictures failed",
    "status.MODEL_PENDING": "Waiting for the model",
    "status.MODEL_GENERATING": "Making the model",
    "status.MODEL_COMPLETED": "Model ready",
    "status.MODEL_FAILED": "The model failed",
    "status.COMPLETED": "Completed",
    "status.FAILED": "Failed",
    "status.CANCELLED": "Cancelled",
    "phase.IMAGE_GENERATION": "pictures",
    "phase.AWAITING_SELECTION": "waiting for your choice",
    "phase.MODEL_GENERATION": "model",
    "phase.COMPLETED": "done",
    "image.PENDING": "queued",
    "image.GENERATING": "making…",
    "image.COMPLETED": "done",
    "image.FAILED": "failed",
    "visibility.PUBLIC": "public",
    "visibility.PRIVATE": "private",
  },
};

// the page's language for a browser's preferences (navigator.languages), as the API chooses
export function browserLanguage(preferences) {
  for (const tag of preferences ?? []) {
    const primary = String(tag).toLowerCase().split("-")[0];
    if (primary === "zh") return "zh-CN";
    if (primary === "en") return "en";
  }
  return DEFAULT_LANGUAGE;
}

function stored() {
  try {
    const choice = localStorage.getItem(STORAGE_KEY);
    return LANGUAGES.includes(choice) ? choice : null;
  } catch {
    return null; // storage disabled: the browser's language
  }
}

let language = stored() ?? browserLanguage(navigator.languages?.length ? navigator.languages : [navigator.language]);

export function currentLanguage() {
  return language;
}

// the visitor's choice, remembered for the next visit
export function chooseLanguage(choice) {
  if (!LANGUAGES.includes(choice)) return;
  language = choice;
  try {
    localStorage.setItem(STORAGE_KEY, choice);
  } catch {
    // not remembered; this page still switches
  }
}

// a sentence of the page in its language; {names} filled from values
export function t(key, values = {}) {
  const template = TEXTS[language][key] ?? TEXTS.en[key] ?? key;
  return template.replace(/\{(\w+)\}/g, (whole, name) => (name in values ? String(values[name]) : whole));
}

// a label for a code the API sends (a status, a phase): the code itself when it has none
export function label(group, code) {
  if (code === null || code === undefined) return "";
  const key = `${group}.${code}`;
  return key in TEXTS[language] ? TEXTS[language][key] : String(code);
}

// the page's fixed words: data-i18n (text), data-i18n-placeholder, data-i18n-label (aria-label),
// data-i18n-title, data-i18n-alt
export function translatePage(root = document) {
  document.documentElement.lang = language;
  document.title = t("page.title");
  for (const node of root.querySelectorAll("[data-i18n]")) node.textContent = t(node.dataset.i18n);
  const attributes = { i18nPlaceholder: "placeholder", i18nLabel: "aria-label", i18nTitle: "title", i18nAlt: "alt" };
  for (const [data, attribute] of Object.entries(attributes)) {
    const selector = `[data-${data.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}]`;
    for (const node of root.querySelectorAll(selector)) node.setAttribute(attribute, t(node.dataset[data]));
  }
}
